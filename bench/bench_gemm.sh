#!/usr/bin/env bash
# GEMM 2048^3 f32: vps::matmul (oneDNN or OpenBLAS on the CPU, cuBLAS on a GPU) vs torch.matmul, same thread
# count, same run. usage: bench/bench_gemm.sh BUILD_DIR [--device cpu|cuda] [--tf32 0|1]
# (env: GEMM_THREADS, default nproc; GEMM_N, default 2048). On the CPU it also reads the FMA peak (vps_bench
# fma_peak) before and after, and gives both sides' share of it.
set -euo pipefail
source bench/common.sh
parse_bench_args "$@"
set -- "${bench_pos[@]}"
require_torch
build=${1:?usage: bench/bench_gemm.sh BUILD_DIR [--device cpu|cuda] [--tf32 0|1]}
threads=${GEMM_THREADS:-$(nproc)}
n=${GEMM_N:-2048}
if smoke; then n=256; fi
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
[ -x "$build/vps_bench" ] || { echo "missing $build/vps_bench (run make bench)"; exit 1; }
# three rounds, the sides alternated, each side's best round (lowest_results in common.sh)
rounds=3
if smoke; then rounds=1; fi
# The CPU's FMA peak on the same threads (vps_bench fma_peak) just before and after the rounds: this
# machine's clock drifts, and the GEMM's share of the peak read beside it is the figure that carries.
fma_peak() { "$build/vps_bench" fma_peak "$threads" | awk '/^RESULT fma_peak /{ for (i = 4; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["gflops"], v["isa"] }'; }
if [ "$device" = cpu ]; then read -r peak_before isa <<<"$(fma_peak)"; fi
ours='' torch=''
for ((round = 0; round < rounds; ++round)); do
  ours+=$("$build/vps_bench" gemm --device "$device" "$threads" "$n")$'\n'
  torch+=$(torch_py bench/gemm_torch.py --device "$device" --tf32 "$tf32" "$threads" "$n")$'\n'
done
ours=$(echo "$ours" | lowest_results | awk '/^RESULT gemm /{print $3, $NF}')
torch=$(echo "$torch" | lowest_results | awk '/^RESULT gemm_torch /{print $3, $NF}')
read -r ours_ms ours_gf <<<"$ours"
read -r torch_ms torch_gf <<<"$torch"
ours_gf=${ours_gf#gflops=}
torch_gf=${torch_gf#gflops=}
echo "GEMM on $device$(tf32_note), the best of $rounds alternating runs a side (each the median of 5 calls)"
printf "%-10s %-16s %8s %10s %10s %8s %12s %12s\n" op shape threads "ours ms" "torch ms" ratio "ours GF/s" "torch GF/s"
awk -v n="$n" -v t="$threads" -v o="$ours_ms" -v p="$torch_ms" -v og="$ours_gf" -v pg="$torch_gf" 'BEGIN {
  r = (p > 0) ? sprintf("%.3f", o / p) : "-"; ps = (p > 0) ? sprintf("%.2f", p) : "-"; pgs = (pg > 0) ? sprintf("%.1f", pg) : "-"
  printf "%-10s %-16s %8d %10.2f %10s %8s %12.1f %12s\n", "matmul", n "x" n "x" n, t, o, ps, r, og, pgs }'
if [ "$device" = cpu ]; then
  read -r peak_after isa <<<"$(fma_peak)"
  awk -v b="$peak_before" -v a="$peak_after" -v isa="$isa" -v t="$threads" -v og="$ours_gf" -v pg="$torch_gf" 'BEGIN {
    m = (a + b) / 2
    if (isa == "none") { print "FMA peak: not measured (vps_bench fma_peak needs AVX-512)"; exit }
    printf "FMA peak (vps_bench fma_peak, %s, %d threads): %.1f before, %.1f after GFLOP/s", isa, t, b, a
    if (m > 0) { printf "; ours at %.0f%% of their mean", 100 * og / m; if (pg > 0) printf ", torch at %.0f%%", 100 * pg / m }
    printf "\n" }'
fi
