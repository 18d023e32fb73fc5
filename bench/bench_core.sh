#!/usr/bin/env bash
# Core ops (elementwise a*b+c over 16M f32, row softmax of 4096x4096), ours vs PyTorch in one run:
#   bash bench/bench_core.sh BUILD_DIR [THREADS] [DEVICE] [--device cpu|cuda]
# THREADS defaults to OMP_NUM_THREADS or nproc; both sides use the same count. DEVICE (cpu or cuda) is
# the older spelling of --device.
set -euo pipefail
source bench/common.sh
parse_bench_args "$@"
set -- "${bench_pos[@]}"
build=${1:?usage: bench/bench_core.sh BUILD_DIR [THREADS] [DEVICE] [--device cpu|cuda]}
threads=${2:-${OMP_NUM_THREADS:-$(nproc)}}
device=${3:-$device}
sizes=()
if smoke; then sizes=(65536 256); fi
ours=$(OMP_NUM_THREADS=$threads "$build/vps_bench" core_ "$threads" "$device" "${sizes[@]}")  # a failure ends the script
ours=$(grep '^RESULT' <<<"$ours" || true)
if have_torch; then
  theirs=$(torch_py bench/core_torch.py "$threads" "$device" "${sizes[@]}" | grep '^RESULT' || true)
else
  theirs=""
  echo "(no PyTorch with torchvision, see bench/common.sh: torch column left empty)"
fi
echo "core ops on $device, $threads threads"
printf '%-20s %-18s %10s %10s %7s %9s %9s\n' op shape "ours ms" "torch ms" ratio "ours GB/s" "torch GB/s"
while read -r _ name ms extra; do
  [ -n "$name" ] || continue
  shape=$(sed -n 's/.*shape=\([^ ]*\).*/\1/p' <<<"$extra")
  gbs=$(sed -n 's/.*GB\/s=\([^ ]*\).*/\1/p' <<<"$extra")
  tline=$(grep " $name " <<<"$theirs" || true)
  tms=$(awk '{print $3}' <<<"$tline")
  tgbs=$(sed -n 's/.*GB\/s=\([^ ]*\).*/\1/p' <<<"$tline")
  ratio=$(awk -v a="$ms" -v b="$tms" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf '%-20s %-18s %10.3f %10s %7s %9s %9s\n' "$name" "$shape" "$ms" "${tms:--}" "$ratio" "$gbs" "${tgbs:--}"
done <<<"$ours"
echo "(ratio = ours / torch; below 1 means we are faster)"
