#!/usr/bin/env bash
# VPSNet-Track inference of one frame, ours vs the same computation from PyTorch / torchvision ops
# (random init, 100 detections on both sides), by stage, with the peak RSS of each process (and on a
# GPU the peak GPU memory: our allocator's peak bytes in use, torch.cuda.max_memory_allocated).
# On the CPU both sides run the frame again in bf16 (ours: --precision bf16, the products' inputs in bf16;
# PyTorch: torch.autocast(bfloat16)), unless BF16=0; our bf16 path is CPU only.
# Usage: bench/bench_vpsnet.sh BUILD_DIR [--device cpu|cuda] [--tf32 0|1]
#        (THREADS defaults to nproc; SIZE "H W", default "1024 2048"; REPS 2; BF16 1)
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
bf16=${BF16:-1}
[ "$device" = cpu ] || bf16=0
if [ "$bf16" = 1 ]; then
  # shellcheck disable=SC2086
  "$build/vps_bench" vpsnet_frame --precision bf16 $size "$reps" | sed 's/^RESULT/OURS_BF16/' >>"$tmp"
  # shellcheck disable=SC2086
  (cd bench && torch_py vpsnet_torch.py --bf16 "$threads" $size "$reps") | sed 's/^RESULT/TORCH_BF16/' >>"$tmp"
fi
echo "VPSNet-Track inference, one frame, $device$(tf32_note), $threads threads, best of $reps (ours vs torchvision $(torch_version torchvision))"
awk -v bf16="$bf16" '
  function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
  function val(v) { return v == "" ? "-" : v }
  $1 == "OURS"  { ours[$2] = $3; order[++n] = $2; shape = $4 }
  $1 == "TORCH" { torch[$2] = $3 }
  $1 == "OURS_BF16" { obf[$2] = $3 }
  $1 == "TORCH_BF16" { tbf[$2] = $3 }
  END {
    if (bf16 == 1)
      printf "%-24s %-10s %10s %10s %7s | %10s %10s %7s | %8s\n", "stage", "shape", "ours f32", "torch f32", "ratio",
             "ours bf16", "torch bf16", "ratio", "f32/bf16"
    else
      printf "%-24s %-10s %10s %10s %7s\n", "stage", "shape", "ours", "torch", "ratio"
    for (i = 1; i <= n; i++) {
      k = order[i]
      if (bf16 == 1)
        printf "%-24s %-10s %10.1f %10s %7s | %10s %10s %7s | %8s\n", k, shape, ours[k], val(torch[k]),
               ratio(ours[k], torch[k]), val(obf[k]), val(tbf[k]), ratio(obf[k], tbf[k]), ratio(ours[k], obf[k])
      else
        printf "%-24s %-10s %10.1f %10s %7s\n", k, shape, ours[k], val(torch[k]), ratio(ours[k], torch[k])
    }
    print "(ms per stage; detections = count; peak_rss_mb = MB of the whole process; peak_gpu_mb = MB of tensors;"
    if (bf16 == 1) print " bf16: ours rounds the inputs of the convolutions and linear layers; PyTorch runs torch.autocast(bfloat16)"
    print " f32/bf16 = our float32 time over our bf16 time)"
  }' "$tmp"
