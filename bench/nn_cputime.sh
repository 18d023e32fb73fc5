#!/usr/bin/env bash
# Load-robust variant of bench_nn.sh / bench_conv.sh for a shared machine: one thread each, median
# process CPU time (the time the op actually ran, not the time other processes held the core).
# Not part of `make bench` (wall time on an idle machine is the reference there).
# usage: bench/nn_cputime.sh BUILD_DIR
set -euo pipefail
source bench/common.sh
require_torch
build=${1:?usage: bench/nn_cputime.sh BUILD_DIR}
ours=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$build/vps_bench" cputime)
torch=$(OMP_NUM_THREADS=1 torch_py "$(dirname "$0")/nn_cputime_torch.py")
echo "CPU time, 1 thread, f32 (nn ops: 8x64x64x64; conv: batch 1); ratio = ours / torch"
printf "%-22s %9s %9s %6s | %9s %9s %6s\n" op fwd_ours fwd_torch ratio fb_ours fb_torch ratio
while read -r tag name f fb; do
  [ "$tag" = CPU ] || continue
  read -r tf tfb < <(awk -v n="$name" '$1 == "CPU" && $2 == n {print $3, $4}' <<<"$torch") || true
  awk -v n="$name" -v f="$f" -v fb="$fb" -v tf="$tf" -v tfb="$tfb" \
    'function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
     BEGIN { printf "%-22s %9.2f %9s %6s | %9.2f %9s %6s\n", n, f, tf == "" ? "-" : tf, r(f, tf), fb, tfb == "" ? "-" : tfb, r(fb, tfb) }'
done <<<"$ours"
