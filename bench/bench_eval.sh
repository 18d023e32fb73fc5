#!/usr/bin/env bash
# Times `vps eval vpq` on a synthetic Cityscapes-VPS-sized val set: 50 videos x 6 labelled frames at
# 1024x2048 (generated once, cached under build/bench-data/), GT vs GT and GT vs a perturbed prediction.
# Usage: bench/bench_eval.sh <build dir>
set -euo pipefail
source bench/common.sh
B=${1:?usage: bench/bench_eval.sh <build dir>}
VPS="$B/vps"
videos=50 width=2048 height=1024
if smoke; then videos=2 width=256 height=128; fi
DATA=build/bench-data/synth-${height}x${width}-${videos}x6
if [ ! -f "$DATA/.done" ]; then
  rm -rf "$DATA"
  echo "bench_eval: generating $DATA (once)..."
  "$VPS" synth --out "$DATA" --splits val --videos "$videos" --width "$width" --height "$height" --images none --png-level 1 --seed 1 >/dev/null
  "$VPS" eval perturb --gt "$DATA/val/panoptic_video" --gt-json "$DATA/panoptic_gt_val_city_vps.json" --out "$DATA/pred-gt" --mode none
  "$VPS" eval perturb --gt "$DATA/val/panoptic_video" --gt-json "$DATA/panoptic_gt_val_city_vps.json" --out "$DATA/pred-perturbed" --mode swap,erode,drop --percent 30
  touch "$DATA/.done"
fi
printf '%-22s %10s %10s\n' "vps eval vpq" "seconds" "vpq_all"
for pred in pred-gt pred-perturbed; do
  out=$(mktemp -d)
  t0=$(date +%s.%N)
  "$VPS" eval vpq --pred "$DATA/$pred" --gt "$DATA/val/panoptic_video" --gt-json "$DATA/panoptic_gt_val_city_vps.json" --out "$out" >/dev/null
  t1=$(date +%s.%N)
  printf '%-22s %10.2f %10s\n' "$pred ($((videos * 6)) frames)" "$(echo "$t1 - $t0" | bc -l)" "$(sed -n 's/vpq_all://p' "$out/vpq-final.txt")"
  rm -rf "$out"
done
echo "threads: ${OMP_NUM_THREADS:-$(nproc)}"
