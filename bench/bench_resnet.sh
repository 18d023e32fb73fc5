#!/usr/bin/env bash
# ResNet-50 trunk forward (eval, batch 1, C2..C5), ours (build/<cfg>/vps_bench) vs torchvision on CPU,
# same thread count. Usage: bench/bench_resnet.sh BUILD_DIR   (THREADS defaults to nproc)
set -euo pipefail
source bench/common.sh
require_torch
build=${1:?usage: bench/bench_resnet.sh BUILD_DIR}
threads=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads
sizes=("224 224" "512 1024")
if smoke; then sizes=("64 64"); fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for hw in "${sizes[@]}"; do
  "$build/vps_bench" resnet50_plain $hw | sed 's/^RESULT/OURS/' >>"$tmp"
  "$build/vps_bench" resnet50_folded $hw | sed 's/^RESULT/OURS/' >>"$tmp"
  torch_py bench/resnet_torch.py "$threads" $hw | sed 's/^RESULT/TORCH/' >>"$tmp"
done
echo "ResNet-50 trunk forward on CPU, batch 1, $threads threads (ours vs torchvision $(torch_version torchvision))"
# resnet50_plain and resnet50_folded are compared with torchvision's plain (unfolded) forward.
awk '
  $1 == "OURS"  { key = $2 " " $4; ours[key] = $3; order[++n] = key }
  $1 == "TORCH" { torch[$4] = $3 }
  END {
    printf "%-18s %-12s %10s %10s %7s\n", "op", "shape", "ours ms", "torch ms", "ratio"
    for (i = 1; i <= n; i++) {
      split(order[i], p, " "); t = torch[p[2]]
      if (t == "") t = "-"
      r = (t == "-" || t == 0) ? "-" : sprintf("%.2f", ours[order[i]] / t)
      printf "%-18s %-12s %10.1f %10s %7s\n", p[1], p[2], ours[order[i]], t, r
    }
  }' "$tmp"
