#!/usr/bin/env bash
# The CPU kernels of the CUDA build against those of the CPU-only build, in one run: the same cases
# of vps_bench in build/cpu and build/cuda[-cudnn], so that the CPU path every CUDA user gets cannot
# fall behind the CPU build again (nvcc once compiled it through a type-erased lambda wrapper, 5-10x
# slower; see tensor/hd.h). Brings both configurations up to date first (needs nvcc for the CUDA one).
#   bash bench/bench_builds.sh BUILD_DIR [THREADS]   (bench-smoke: the cases at tiny sizes)
set -euo pipefail
source bench/common.sh
build=${1:?usage: bench/bench_builds.sh BUILD_DIR [THREADS]}
threads=${2:-${OMP_NUM_THREADS:-$(nproc)}}
cpu=build/cpu
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { echo "(skipped: no nvcc, so no CUDA build to compare)"; exit 0; }
# both configurations up to date with the tree (incremental: quick when nothing changed)
make -s CUDA=1 -j"$(nproc)" all >/dev/null
make -s CUDA=0 -j"$(nproc)" all >/dev/null
# the CUDA build folder that exists (cuDNN's first); `ls -d` of both failed under pipefail when one was missing
cuda=
for d in build/cuda-cudnn build/cuda; do
  if [ -d "$d" ]; then
    cuda=$d
    break
  fi
done
[ -n "$cuda" ] || { echo "(skipped: make CUDA=1 left no build/cuda or build/cuda-cudnn folder)"; exit 1; }
run() {  # run BUILD CASE ARGS...: the ms of the case's RESULT lines, "name ms" per line
  local b=$1
  shift
  OMP_NUM_THREADS=$threads "$b/vps_bench" "$@" | awk '/^RESULT/ {print $2, $3}'
}
cases=("core_ew_mul_add $threads cpu" "core_softmax_rows $threads cpu" "det_nms 4000" "nn $threads 8 64 64 64 cpu")
if smoke; then
  cases=("core_ew_mul_add $threads cpu 65536" "core_softmax_rows $threads cpu 65536 256" "det_nms 200" "nn $threads 1 32 16 16 cpu")
fi
echo "CPU kernels, CPU-only build ($cpu) vs CUDA build ($cuda), $threads threads"
printf '%-22s %12s %12s %7s\n' case "cpu build ms" "cuda build ms" ratio
for c in "${cases[@]}"; do
  # shellcheck disable=SC2086
  a=$(run "$cpu" $c) b=$(run "$cuda" $c)
  while read -r name ms; do
    [ -n "$name" ] || continue
    ms2=$(awk -v n="$name" '$1 == n {print $2}' <<<"$b")
    ratio=$(awk -v x="$ms2" -v y="$ms" 'BEGIN { if (y > 0 && x > 0) printf "%.2f", x / y; else print "-" }')
    printf '%-22s %12.3f %12s %7s\n' "$name" "$ms" "${ms2:--}" "$ratio"
  done <<<"$a"
done
echo "(ratio = CUDA build / CPU build on the CPU; 1 means the same speed)"
