#!/usr/bin/env bash
# Deformable conv at the semantic head's P2 shapes (256x512, batch 1, f32): ours vs torchvision's
# deform_conv2d (its CPU or CUDA kernel) with the same thread count, and vs our own plain 3x3 conv of
# the same shape.
# usage: bench/bench_dcn.sh BUILD_DIR [THREADS] [REPS] [--device cpu|cuda] [--tf32 0|1]
# (THREADS defaults to nproc, REPS to 3; bench-smoke: a 32x64 map)
set -euo pipefail
source bench/common.sh
parse_bench_args "$@"
set -- "${bench_pos[@]}"
require_torch
build=${1:?usage: bench/bench_dcn.sh BUILD_DIR [THREADS] [REPS]}
threads=${2:-$(nproc)}
reps=${3:-3}
size=()
if smoke; then reps=1 size=(32 64); fi
ours=$(OMP_NUM_THREADS=$threads "$build/vps_bench" dcn_ "$device" "$threads" "$reps" "${size[@]}")
theirs=$(OMP_NUM_THREADS=$threads torch_py "$(dirname "$0")/dcn_torch.py" --device "$device" --tf32 "$tf32" "$threads" "$reps" "${size[@]}" 2>/dev/null || true)
echo "deform_conv2d 3x3 pad 1, batch 1, float32, $device$(tf32_note), $threads threads, median of $reps"
printf "%-22s %10s %12s %9s %10s %9s\n" op ours_ms torchvision_ms ratio conv_ms dcn/conv
while read -r tag name ms _; do
  [ "$tag" = RESULT ] || continue
  case "$name" in *_conv_*) continue ;; esac
  t=$(awk -v n="$name" '$2 == n {print $3}' <<<"$theirs")
  conv=$(awk -v n="${name%_*}_conv_${name##*_}" '$2 == n {print $3}' <<<"$ours")
  r=$(awk -v a="$ms" -v b="$t" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  rc=$(awk -v a="$ms" -v b="$conv" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  printf "%-22s %10.1f %12s %9s %10.1f %9s\n" "$name" "$ms" "${t:-n/a}" "$r" "$conv" "$rc"
done <<<"$ours"
echo "(ratio = ours / torchvision, below 1: we are faster; dcn/conv = our DCN / our plain conv)"
