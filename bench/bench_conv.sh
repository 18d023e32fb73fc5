#!/usr/bin/env bash
# conv2d at ResNet-50 shapes (batch 1, f32; cuDNN on a GPU): vps vs PyTorch with the same thread count.
# usage: bench/bench_conv.sh BUILD_DIR [THREADS] [--device cpu|cuda] [--tf32 0|1]   (THREADS defaults to nproc)
# The default OpenMP wait policy on both sides, as in every other bench: OMP_WAIT_POLICY=PASSIVE made
# the small 1x1 case bimodal per process (0.6 or 1.1 ms: the woken worker's tile ran on the master's core)
# and slowed PyTorch's 1x1 from 0.56 to 0.70 ms; see docs/conv.md.
set -euo pipefail
source bench/common.sh
parse_bench_args "$@"
set -- "${bench_pos[@]}"
require_torch
build=${1:?usage: bench/bench_conv.sh BUILD_DIR [THREADS] [--device cpu|cuda] [--tf32 0|1]}
threads=${2:-$(nproc)}
# Each side runs `rounds` times, alternately, and each case reports each side's lower median
# (lowest_results in common.sh; one run a side put the stem's ratio anywhere in 0.92-1.05 on equal kernels).
reps=20 rounds=3
if smoke; then reps=1 rounds=1; fi  # the shapes are ResNet-50's own; smoke runs each pass once
ours='' theirs=''
for ((round = 0; round < rounds; ++round)); do
  ours+=$(OMP_NUM_THREADS=$threads "$build/vps_bench" conv_ "$device" "$threads" "$reps")$'\n'
  theirs+=$(OMP_NUM_THREADS=$threads torch_py "$(dirname "$0")/conv_torch.py" --device "$device" --tf32 "$tf32" "$threads" "$reps" 2>/dev/null || true)$'\n'
done
ours=$(echo "$ours" | lowest_results) theirs=$(echo "$theirs" | lowest_results)
echo "conv2d, batch 1, float32, $device$(tf32_note), $threads threads, the lower median of $rounds alternating runs a side (GFLOP/s: forward 2*O*Ho*Wo*C*kh*kw, fwd+bwd 3x)"
printf "%-28s %10s %10s %8s %8s\n" op ours_ms torch_ms ratio GFLOP/s
while read -r tag name ms extra; do
  [ "$tag" = RESULT ] || continue
  t=$(echo "$theirs" | awk -v n="$name" '$2 == n {print $3}')
  g=${extra#gflops=}
  if [ -n "$t" ]; then r=$(awk -v a="$ms" -v b="$t" 'BEGIN {printf "%.2f", a / b}'); else t=n/a; r=n/a; fi
  printf "%-28s %10.2f %10s %8s %8.1f\n" "$name" "$ms" "$t" "$r" "$g"
done <<< "$ours"
