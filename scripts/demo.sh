#!/usr/bin/env bash
# make demo: the main job on the embedded default, a synthetic Cityscapes-VPS dataset.
# Today the model itself does not exist yet, so the demo runs the data and evaluation pipeline end
# to end: generate the dataset, make a perturbed "prediction" from its GT, score it with VPQ and STQ,
# and draw GT | prediction side by side with a GIF per video. Outputs go to out/demo/.
set -euo pipefail
B=${1:?usage: scripts/demo.sh BUILD_DIR}
VPS="$B/vps"
OUT=out/demo
rm -rf "$OUT"
mkdir -p "$OUT"
echo "[demo] 1/5 synthetic dataset (2 val videos x 30 frames, 256x512) -> $OUT/data"
"$VPS" synth --out "$OUT/data" --splits val --videos 2 --width 512 --height 256 --seed 7
GT="$OUT/data/val/panoptic_video"
GTJ="$OUT/data/panoptic_gt_val_city_vps.json"
echo "[demo] 2/5 prediction = GT with ids swapped mid-video, eroded and dropped objects -> $OUT/pred"
"$VPS" eval perturb --gt "$GT" --gt-json "$GTJ" --out "$OUT/pred" --mode swap,erode,drop --percent 30
echo "[demo] 3/5 VPQ (official Cityscapes-VPS protocol) -> $OUT/vpq"
"$VPS" eval vpq --pred "$OUT/pred" --gt "$GT" --gt-json "$GTJ" --out "$OUT/vpq" >/dev/null
cat "$OUT/vpq/vpq-final.txt"
echo "[demo] 4/5 STQ -> $OUT/stq"
"$VPS" eval stq --pred "$OUT/pred" --gt "$GT" --gt-json "$GTJ" --out "$OUT/stq" | tail -n 5
echo "[demo] 5/5 GT | prediction pictures and GIFs -> $OUT/vis"
"$VPS" vis --gt-json "$GTJ" --gt "$GT" --pred "$OUT/pred" --out "$OUT/vis" --side-by-side --gif >/dev/null
echo "[demo] done: $(ls "$OUT/vis" | wc -l) files in $OUT/vis"
