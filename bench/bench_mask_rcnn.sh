#!/usr/bin/env bash
# Mask R-CNN (ResNet-50-FPN) training step, ours (build/<cfg>/vps_bench) vs torchvision on CPU, batch 1,
# same thread count. Usage: bench/bench_mask_rcnn.sh BUILD_DIR   (THREADS defaults to nproc; SIZE "H W")
set -euo pipefail
source bench/common.sh
require_torch
build=${1:?usage: bench/bench_mask_rcnn.sh BUILD_DIR}
threads=${THREADS:-$(nproc)}
size=${SIZE:-"256 512"}
if smoke; then size="64 128"; fi
export OMP_NUM_THREADS=$threads
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$build/vps_bench" mask_rcnn_train $size | sed 's/^RESULT/OURS/' >>"$tmp"
torch_py bench/mask_rcnn_torch.py "$threads" $size | sed 's/^RESULT/TORCH/' >>"$tmp"
echo "Mask R-CNN training step (forward_train + backward) on CPU, batch 1, $threads threads (ours vs torchvision $(torch_version torchvision))"
awk '
  $1 == "OURS"  { key = $2 " " $4; ours[key] = $3; order[++n] = key }
  $1 == "TORCH" { torch[$2 " " $4] = $3 }
  END {
    printf "%-18s %-12s %10s %10s %7s\n", "op", "shape", "ours ms", "torch ms", "ratio"
    for (i = 1; i <= n; i++) {
      split(order[i], p, " "); t = torch[order[i]]
      if (t == "") t = "-"
      r = (t == "-" || t == 0) ? "-" : sprintf("%.2f", ours[order[i]] / t)
      printf "%-18s %-12s %10.1f %10s %7s\n", p[1], p[2], ours[order[i]], t, r
    }
  }' "$tmp"
