#!/usr/bin/env bash
# make bench: runs every bench/bench_*.sh with the build directory as $1. Each prints its own table
# (ours vs PyTorch on the same machine, same thread count, in the same run). make bench-smoke: the
# same with BENCH_SMOKE=1.
set -uo pipefail
build=${1:?usage: bench/run.sh BUILD_DIR}
echo "vps benchmarks ($(nproc) cores, build $build)"
# The PyTorch side: installed here when run as root; otherwise the scripts that need it say so and skip.
# BENCH_SMOKE=1 (make bench-smoke, bench/common.sh): tiny sizes, nothing installed, our side alone
# where PyTorch is missing.
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
  echo "(smoke mode: tiny sizes, one repetition; the timings mean nothing)"
else
  bash scripts/deps.sh bench || echo "(the PyTorch columns will be skipped)"
fi
status=0
for b in bench/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"
  bash "$b" "$build" || { echo "   ($b failed)"; status=1; }
done
exit $status
