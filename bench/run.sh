#!/usr/bin/env bash
# make bench: runs every bench/bench_*.sh with the build directory as $1. Each prints its own table
# (ours vs PyTorch on the same machine, same thread count, in the same run).
set -uo pipefail
build=${1:?usage: bench/run.sh BUILD_DIR}
echo "vps benchmarks ($(nproc) cores, build $build)"
# The PyTorch side: installed here when run as root; otherwise the scripts that need it say so and skip.
bash scripts/deps.sh bench || echo "(the PyTorch columns will be skipped)"
status=0
for b in bench/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"
  bash "$b" "$build" || { echo "   ($b failed)"; status=1; }
done
exit $status
