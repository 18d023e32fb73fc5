#!/usr/bin/env bash
# Detection ops (NMS, RoIAlign), ours (build/<cfg>/vps_bench) vs torchvision, same inputs, same thread count.
# Usage: bench/bench_det.sh BUILD_DIR [--device cpu|cuda]   (THREADS defaults to nproc)
set -euo pipefail
source bench/common.sh
parse_bench_args "$@"
set -- "${bench_pos[@]}"
require_torch
build=${1:?usage: bench/bench_det.sh BUILD_DIR}
threads=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads
sizes="2000 4000 6000" rois=1000 feat="256 512"
if smoke; then sizes=200 rois=100 feat="32 64"; fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for n in $sizes; do
  "$build/vps_bench" det_nms --device "$device" "$n" | sed 's/^RESULT/OURS/' >>"$tmp"
  torch_py bench/det_torch.py --device "$device" "$threads" nms "$n" | sed 's/^RESULT/TORCH/' >>"$tmp"
done
# shellcheck disable=SC2086
"$build/vps_bench" det_roi_align --device "$device" "$rois" $feat | sed 's/^RESULT/OURS/' >>"$tmp"
# shellcheck disable=SC2086
torch_py bench/det_torch.py --device "$device" "$threads" roi_align "$rois" $feat | sed 's/^RESULT/TORCH/' >>"$tmp"
echo "detection ops on $device, $threads threads (ours vs torch $(torch_version torch))"
# The mmdet-mode forward has no torchvision twin; it is compared with torchvision's aligned=False forward.
awk '
  $1 == "OURS"  { key = $2 " " $4; ours[key] = $3; order[++n] = key
                  if ($2 == "roi_align_fwd_mmdet") { k2 = "roi_align_fwd " $4; mm[k2] = $3 } }
  $1 == "TORCH" { torch[$2 " " $4] = $3 }
  END {
    printf "%-22s %-34s %10s %10s %7s\n", "op", "shape", "ours ms", "torch ms", "ratio"
    for (i = 1; i <= n; i++) {
      split(order[i], p, " "); t = torch[order[i]]
      if (p[1] == "roi_align_fwd_mmdet") t = torch["roi_align_fwd " p[2]]
      if (t == "") t = "-"
      r = (t == "-" || t == 0) ? "-" : sprintf("%.2f", ours[order[i]] / t)
      printf "%-22s %-34s %10.2f %10s %7s\n", p[1], p[2], ours[order[i]], t, r
    }
  }' "$tmp"
if grep -q '^TORCH' "$tmp"; then  # our keep count against torchvision's, per size
  grep -h 'nms' "$tmp" | awk '{print "  " $1 " " $4 " " $5}' | paste - - | awk '{ if ($3 != $6) print "WARNING: keep counts differ:", $0 }'
fi
