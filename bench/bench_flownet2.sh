#!/usr/bin/env bash
# FlowNet2 inference on a 512x1024 pair (full width, batch 1, float32, CPU; bench-smoke: 64x128): ours vs the PyTorch
# re-implementation of the spec (bench/flownet2_torch.py) with the same thread count, in the same run.
# usage: bench/bench_flownet2.sh BUILD_DIR [THREADS] [REPS]   (THREADS defaults to nproc, REPS to 3)
set -euo pipefail
source bench/common.sh
require_torch
build=${1:?usage: bench/bench_flownet2.sh BUILD_DIR [THREADS] [REPS]}
threads=${2:-$(nproc)}
reps=${3:-3}
size=(512 1024)
if smoke; then reps=1 size=(64 128); fi
ours=$(OMP_NUM_THREADS=$threads "$build/vps_bench" flownet2 cpu "$threads" "$reps" "${size[@]}")
theirs=$(OMP_NUM_THREADS=$threads torch_py "$(dirname "$0")/flownet2_torch.py" "$threads" "$reps" "${size[@]}" 2>/dev/null || true)
echo "FlowNet2 ${size[0]}x${size[1]} pair, batch 1, float32, cpu, $threads threads, median of $reps"
printf "%-20s %10s %10s %9s %9s\n" part ours_ms torch_ms ratio gflops
while read -r tag name ms extra; do
  [ "$tag" = RESULT ] || continue
  t=$(awk -v n="$name" '$2 == n {print $3}' <<<"$theirs")
  r=$(awk -v a="$ms" -v b="$t" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  printf "%-20s %10.1f %10s %9s %9.1f\n" "$name" "$ms" "${t:--}" "$r" "${extra#gflops=}"
done <<<"$ours"
echo "(ratio = ours / PyTorch, below 1: we are faster)"
