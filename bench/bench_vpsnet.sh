#!/usr/bin/env bash
# VPSNet-Track inference of one frame, ours vs the same computation from PyTorch / torchvision ops
# (random init, 100 detections on both sides), by stage, with the peak RSS of each process (and on a
# GPU the peak GPU memory: our allocator's peak bytes in use, torch.cuda.max_memory_allocated).
# Usage: bench/bench_vpsnet.sh BUILD_DIR [--device cpu|cuda] [--tf32 0|1]
#        (THREADS defaults to nproc; SIZE "H W", default "1024 2048"; REPS 2)
set -euo pipefail
source bench/common.sh
parse_bench_args "$@"
set -- "${bench_pos[@]}"
require_torch
build=${1:?usage: bench/bench_vpsnet.sh BUILD_DIR}
threads=${THREADS:-$(nproc)}
size=${SIZE:-"1024 2048"}
reps=${REPS:-2}
if smoke; then size="64 128" reps=1; fi
export OMP_NUM_THREADS=$threads
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086
"$build/vps_bench" vpsnet_frame --device "$device" $size "$reps" | sed 's/^RESULT/OURS/' >>"$tmp"
# shellcheck disable=SC2086
(cd bench && torch_py vpsnet_torch.py --device "$device" --tf32 "$tf32" "$threads" $size "$reps") | sed 's/^RESULT/TORCH/' >>"$tmp"
echo "VPSNet-Track inference, one frame, $device$(tf32_note), $threads threads, best of $reps (ours vs torchvision $(torch_version torchvision))"
awk '
  $1 == "OURS"  { ours[$2] = $3; order[++n] = $2; shape = $4 }
  $1 == "TORCH" { torch[$2] = $3 }
  END {
    printf "%-24s %-10s %10s %10s %7s\n", "stage", "shape", "ours", "torch", "ratio"
    for (i = 1; i <= n; i++) {
      k = order[i]; t = torch[k]; if (t == "") t = "-"
      r = (t == "-" || t == 0) ? "-" : sprintf("%.2f", ours[k] / t)
      printf "%-24s %-10s %10.1f %10s %7s\n", k, shape, ours[k], t, r
    }
    print "(ms per stage; detections = count; peak_rss_mb = MB of the whole process; peak_gpu_mb = MB of tensors)"
  }' "$tmp"
