#!/usr/bin/env bash
# Core ops, ours vs PyTorch in one run: bash bench/bench_core.sh BUILD_DIR [THREADS] [DEVICE]
# THREADS defaults to OMP_NUM_THREADS or nproc; both sides use the same count.
set -euo pipefail
build=${1:?usage: bench/bench_core.sh BUILD_DIR [THREADS] [DEVICE]}
threads=${2:-${OMP_NUM_THREADS:-$(nproc)}}
device=${3:-cpu}
ours=$(OMP_NUM_THREADS=$threads "$build/vps_bench" core_ "$threads" "$device" | grep '^RESULT' || true)
if bash scripts/deps.sh --check bench 2>/dev/null; then
  theirs=$(/usr/bin/python3 bench/core_torch.py "$threads" "$device" | grep '^RESULT' || true)
else
  theirs=""
  echo "(Debian's PyTorch stack missing, see scripts/deps.sh bench: torch column left empty)"
fi
echo "core ops on $device, $threads threads"
printf '%-20s %-18s %10s %10s %7s %9s %9s\n' op shape "ours ms" "torch ms" ratio "ours GB/s" "torch GB/s"
while read -r _ name ms extra; do
  shape=$(sed -n 's/.*shape=\([^ ]*\).*/\1/p' <<<"$extra")
  gbs=$(sed -n 's/.*GB\/s=\([^ ]*\).*/\1/p' <<<"$extra")
  tline=$(grep " $name " <<<"$theirs" || true)
  tms=$(awk '{print $3}' <<<"$tline")
  tgbs=$(sed -n 's/.*GB\/s=\([^ ]*\).*/\1/p' <<<"$tline")
  ratio=$(awk -v a="$ms" -v b="$tms" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf '%-20s %-18s %10.3f %10s %7s %9s %9s\n' "$name" "$shape" "$ms" "${tms:--}" "$ratio" "$gbs" "${tgbs:--}"
done <<<"$ours"
echo "(ratio = ours / torch; below 1 means we are faster)"
