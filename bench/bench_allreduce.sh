#!/usr/bin/env bash
# Data-parallel training on this machine (docs/distributed.md):
#  1. allreduce of a ResNet-50-FPN-sized gradient set (26.85M float32, 175 tensors, 25 MiB buckets)
#     over MPI with 2 ranks (bench/allreduce_bench.cpp), vs torch.distributed's gloo backend with
#     2 processes and the same buckets (bench/allreduce_torch.py), in the same run;
#  2. steps/s of `vps train` with the tiny VPSNet-Track (configs/train_vpsnet_tiny.json, 96x64 synthetic
#     frames), 1 rank vs 2 ranks under mpirun, one thread per rank (median step_time of rank 0's log).
# usage: bench/bench_allreduce.sh BUILD_DIR [REPS] [STEPS]   (REPS defaults to 5, STEPS to 12)
set -euo pipefail
source bench/common.sh
build=${1:?usage: bench/bench_allreduce.sh BUILD_DIR [REPS] [STEPS]}
reps=${2:-5}
steps=${3:-12}
if smoke; then reps=1 steps=3; fi
if ! bash scripts/deps.sh --check mpi >/dev/null 2>&1 || ! command -v mpirun >/dev/null; then
  echo "(skipped $(basename "$0"): Open MPI is not installed: scripts/deps.sh mpi)"
  exit 0
fi
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS=1)
ours=$("${mpi[@]}" -np 2 "$build/vps_bench" allreduce "$reps" 25 | awk '$1 == "RESULT"')
theirs=""
if bash scripts/deps.sh --check bench >/dev/null 2>&1; then
  theirs=$(/usr/bin/python3 "$(dirname "$0")/allreduce_torch.py" "$reps" 25 2>/dev/null | awk '$1 == "RESULT"' || true)
fi
ms=$(awk '{print $3}' <<<"$ours")
t=$(awk '{print $3}' <<<"$theirs")
echo "allreduce (average) of 26.85M float32 in 25 MiB buckets, 2 ranks on one machine, median of $reps"
printf "%-18s %10s %12s %9s %8s\n" case ours_ms torch_gloo_ms ratio GB/s
printf "%-18s %10.1f %12s %9s %8s\n" allreduce_r50fpn "$ms" "${t:-n/a}" \
  "$(awk -v a="$ms" -v b="$t" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')" \
  "$(sed -n 's/.*gbps=\([0-9.]*\).*/\1/p' <<<"$ours")"
echo "(ratio = ours / torch gloo, below 1: we are faster; GB/s = bytes of the set / time)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/vps" synth --out "$work/data" --splits train --videos 2 --frames 8 --label-every 2 --width 96 --height 64 >/dev/null
train=(train --config configs/train_vpsnet_tiny.json --data "$work/data" log_every=1000 "max_iters=$steps" checkpoint_every=0)
median_step() {  # median step_time of a run's log after its first two steps
  /usr/bin/python3 -c 'import json,sys,statistics; t=[json.loads(l)["step_time"] for l in open(sys.argv[1])][2:]; print(statistics.median(t))' "$1"
}
OMP_NUM_THREADS=1 "$build/vps" "${train[@]}" --out "$work/r1" >/dev/null
"${mpi[@]}" -np 2 "$build/vps" "${train[@]}" --out "$work/r2" >/dev/null
s1=$(median_step "$work/r1/log.jsonl")
s2=$(median_step "$work/r2/log.jsonl")
echo "vps train, tiny VPSNet-Track, 1 thread per rank, median step time of steps 3..$steps"
printf "%-8s %10s %9s %10s\n" ranks step_s steps/s samples/s
awk -v s="$s1" 'BEGIN { printf "%-8d %10.3f %9.2f %10.2f\n", 1, s, 1 / s, 1 / s }'
awk -v s="$s2" 'BEGIN { printf "%-8d %10.3f %9.2f %10.2f\n", 2, s, 1 / s, 2 / s }'
awk -v a="$s1" -v b="$s2" 'BEGIN { printf "(samples/s from 1 to 2 ranks: x%.2f; 2 is ideal)\n", 2 * a / b }'
