#!/usr/bin/env bash
# FlowNet2's custom ops at a 512x1024 pair's shapes (batch 1, f32, CPU): our correlation against the
# PyTorch pad-and-shift formulation, our resample2d against grid_sample (border, align_corners=True),
# with the same thread count, forward and forward+backward.
# usage: bench/bench_flow_ops.sh BUILD_DIR [THREADS] [REPS]   (THREADS defaults to nproc, REPS to 3)
set -euo pipefail
source bench/common.sh
require_torch
build=${1:?usage: bench/bench_flow_ops.sh BUILD_DIR [THREADS] [REPS]}
threads=${2:-$(nproc)}
reps=${3:-3}
if smoke; then reps=1; fi
ours=$(OMP_NUM_THREADS=$threads "$build/vps_bench" flow_ops_ cpu "$threads" "$reps")
theirs=$(OMP_NUM_THREADS=$threads torch_py "$(dirname "$0")/flow_ops_torch.py" "$threads" "$reps" 2>/dev/null || true)
echo "flow ops (correlation 1x256x64x128 -> 441 ch; resample2d), batch 1, float32, cpu, $threads threads, median of $reps"
printf "%-42s %10s %10s %9s\n" op ours_ms torch_ms ratio
while read -r tag name ms _; do
  [ "$tag" = RESULT ] || continue
  t=$(awk -v n="$name" '$2 == n {print $3}' <<<"$theirs")
  r=$(awk -v a="$ms" -v b="$t" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  printf "%-42s %10.1f %10s %9s\n" "$name" "$ms" "${t:-n/a}" "$r"
done <<<"$ours"
echo "(ratio = ours / PyTorch, below 1: we are faster)"
