#!/usr/bin/env bash
# Detection-head pipeline at 1024x2048 (RPN head, proposals, RoI extraction, box head, MaskROI, mask head),
# ours (build/<cfg>/vps_bench heads_pipeline) vs torch/torchvision (bench/heads_torch.py), CPU, inference,
# same shapes and settings, same thread count. Usage: bench/bench_heads.sh BUILD_DIR (THREADS defaults to nproc;
# SIZE "H W", default "1024 2048"; bench-smoke: "128 256")
set -euo pipefail
source bench/common.sh
require_torch
build=${1:?usage: bench/bench_heads.sh BUILD_DIR}
threads=${THREADS:-$(nproc)}
size=${SIZE:-"1024 2048"}
reps=3
if smoke; then size="128 256" reps=1; fi
export OMP_NUM_THREADS=$threads
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086
"$build/vps_bench" heads_pipeline $size "$reps" | sed 's/^RESULT/OURS/' >>"$tmp"
# shellcheck disable=SC2086
torch_py bench/heads_torch.py "$threads" $size | sed 's/^RESULT/TORCH/' >>"$tmp"
echo "detection heads at ${size/ /x} on CPU, $threads threads (ours vs torch $(torch_version torch))"
awk '
  $1 == "OURS"  { ours[$2] = $3; shape[$2] = $4; order[++n] = $2 }
  $1 == "TORCH" { torch[$2] = $3 }
  END {
    printf "%-20s %-22s %10s %10s %7s\n", "stage", "shape", "ours ms", "torch ms", "ratio"
    for (i = 1; i <= n; i++) {
      k = order[i]; t = torch[k]
      r = (t == "" || t == 0) ? "-" : sprintf("%.2f", ours[k] / t)
      printf "%-20s %-22s %10.2f %10s %7s\n", k, shape[k], ours[k], (t == "" ? "-" : sprintf("%.2f", t)), r
    }
  }' "$tmp"
