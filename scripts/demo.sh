#!/usr/bin/env bash
# make demo: the main job on the embedded default, a synthetic Cityscapes-VPS dataset: generate it,
# train a tiny VPSNet-Track on pairs of frames (configs/train_vpsnet_tiny.json), run it over the val
# videos, score the prediction with VPQ and STQ, and draw GT | prediction with a GIF per video.
# Outputs go to out/demo/. DEMO_ITERS overrides the training length (default 1500, under 3 minutes here).
set -euo pipefail
B=${1:?usage: scripts/demo.sh BUILD_DIR}
VPS="$B/vps"
OUT=out/demo
ITERS=${DEMO_ITERS:-1500}
rm -rf "$OUT"
mkdir -p "$OUT"
echo "[demo] 1/6 synthetic dataset (3 train + 3 val videos x 30 frames, 128x256) -> $OUT/data"
"$VPS" synth --out "$OUT/data" --splits train,val --videos 3 --width 256 --height 128 --seed 7
GT="$OUT/data/val/panoptic_video"
GTJ="$OUT/data/panoptic_gt_val_city_vps.json"
echo "[demo] 2/6 train a tiny VPSNet-Track for $ITERS iterations on frame pairs -> $OUT/run"
"$VPS" train --config configs/train_vpsnet_tiny.json --data "$OUT/data" --out "$OUT/run" \
  max_iters="$ITERS" checkpoint_every="$ITERS" log_every=100 "schedule.steps=[$((ITERS * 3 / 4))]"
echo "[demo] 3/6 run it over the val videos (every frame, tracker per video) -> $OUT/pred"
"$VPS" infer --config configs/vpsnet_track_tiny.json --weights "$OUT/run/model.safetensors" --data "$OUT/data" \
  --split val --out "$OUT/pred" --stuff-area-limit 64
echo "[demo] 4/6 VPQ (official Cityscapes-VPS protocol) -> $OUT/vpq"
"$VPS" eval vpq --pred "$OUT/pred" --gt "$GT" --gt-json "$GTJ" --out "$OUT/vpq" >/dev/null
cat "$OUT/vpq/vpq-final.txt"
echo "[demo] 5/6 STQ -> $OUT/stq"
"$VPS" eval stq --pred "$OUT/pred" --gt "$GT" --gt-json "$GTJ" --out "$OUT/stq" | tail -n 5
echo "[demo] 6/6 GT | prediction pictures and GIFs -> $OUT/vis"
"$VPS" vis --gt-json "$GTJ" --gt "$GT" --pred "$OUT/pred" --out "$OUT/vis" --side-by-side --gif >/dev/null
echo "[demo] done: $(ls "$OUT/vis" | wc -l) files in $OUT/vis"
