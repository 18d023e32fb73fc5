#!/usr/bin/env bash
# nn ops forward+backward (batch_norm train, group_norm, max_pool2d, bilinear x2) on f32 (N,C,H,W):
# vps vs PyTorch, same thread count, same run. usage: bench/bench_nn.sh BUILD_DIR [--device cpu|cuda]
# env: NN_THREADS (default nproc), NN_SHAPE "N C H W" (default "8 64 64 64").
set -euo pipefail
source bench/common.sh
parse_bench_args "$@"
set -- "${bench_pos[@]}"
require_torch
build=${1:?usage: bench/bench_nn.sh BUILD_DIR}
threads=${NN_THREADS:-$(nproc)}
shape=${NN_SHAPE:-"8 64 64 64"}
if smoke; then shape="1 32 16 16"; fi
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
[ -x "$build/vps_bench" ] || { echo "missing $build/vps_bench (run make bench)"; exit 1; }
ours=$("$build/vps_bench" nn --device "$device" "$threads" $shape)
torch=$(torch_py bench/nn_torch.py --device "$device" "$threads" $shape)
echo "nn ops forward+backward on $device"
printf "%-12s %-14s %8s %10s %10s %8s\n" op shape threads "ours ms" "torch ms" ratio
for op in batch_norm group_norm max_pool2d bilinear_x2; do
  o=$(awk -v k="nn_$op" '$1=="RESULT" && $2==k {print $3}' <<<"$ours")
  p=$(awk -v k="nn_${op}_torch" '$1=="RESULT" && $2==k {print $3}' <<<"$torch")
  awk -v op="$op" -v s="${shape// /x}" -v t="$threads" -v o="$o" -v p="$p" \
    'BEGIN { ps = (p > 0) ? sprintf("%.2f", p) : "-"; r = (p > 0) ? sprintf("%.2f", o / p) : "-"
             printf "%-12s %-14s %8d %10.2f %10s %8s\n", op, s, t, o, ps, r }'
done
