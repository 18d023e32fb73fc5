#!/usr/bin/env bash
# make demo: the main job on the embedded default, synthetic videos in the Cityscapes-VPS layout:
# generate a training set (48 videos labelled on every frame), a val set and a held-out set from other
# seeds (6 videos each, labelled every 5th frame as Cityscapes-VPS, so VPQ's k=15 window spans 15 frames),
# train the tiny VPSNet-Track on pairs of frames (configs/train_demo.json, docs/recipe.md), run it over
# both sets (tracker per video), score VPQ, STQ and the identity figures (IDF1, ID switches), and draw
# GT | prediction with a GIF per val video, and end with one HTML page of it all (vps report:
# out/demo/report/index.html; the training run's TensorBoard event files are in out/demo/run/).
# Outputs go to out/demo/.
# DEMO_ITERS overrides the training length, DEMO_THREADS the threads (default: all cores), DEMO_OUT the
# output folder (default out/demo; replaced as a whole).
set -euo pipefail
B=${1:?usage: scripts/demo.sh BUILD_DIR}
VPS="$B/vps"
OUT=${DEMO_OUT:-out/demo}
ITERS=${DEMO_ITERS:-6000}
export OMP_NUM_THREADS=${DEMO_THREADS:-${OMP_NUM_THREADS:-$(nproc)}}
# How long an idle OpenMP thread spins before it sleeps (libgomp's default 300000): the tiny model's ops
# are short, so the second thread idles about half of a step, and spinning that long slowed the step
# by ~7% on the 2-core machine (64.6 -> 60.3 ms, 5 interleaved pairs of 200 steps; 1000 was slower,
# passive waiting 1.7x slower; docs/recipe.md). Thread timing only: the results are the same bits.
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-30000}
rm -rf "$OUT"
mkdir -p "$OUT"
t0=$(date +%s)
echo "[demo] 1/6 synthetic videos (128x256): 48 for training, 6 val, 6 held-out -> $OUT/{train,val,heldout}"
"$VPS" synth --out "$OUT/train" --splits train --videos 48 --label-every 1 --width 256 --height 128 --seed 21 >/dev/null
"$VPS" synth --out "$OUT/val" --splits val --videos 6 --width 256 --height 128 --seed 8 >/dev/null
"$VPS" synth --out "$OUT/heldout" --splits val --videos 6 --width 256 --height 128 --seed 11 >/dev/null
echo "[demo] 2/6 train the tiny VPSNet-Track for $ITERS iterations on frame pairs ($OMP_NUM_THREADS threads) -> $OUT/run"
"$VPS" train --config configs/train_demo.json --data "$OUT/train" --out "$OUT/run" \
  max_iters="$ITERS" checkpoint_every="$ITERS" log_every=500 "schedule.steps=[$((ITERS * 3 / 4))]"
for set in val heldout; do
  D="$OUT/$set"
  echo "[demo] 3/6 $set: run it over every frame of the 6 videos, score VPQ, STQ and identities -> $OUT/$set-{pred,vpq,stq}"
  "$VPS" infer --config configs/vpsnet_track_demo.json --weights "$OUT/run/model.safetensors" --data "$D" --split val \
    --out "$OUT/$set-pred" --stuff-area-limit 64 >/dev/null 2>&1
  "$VPS" eval vpq --pred "$OUT/$set-pred" --gt "$D/val/panoptic_video" --gt-json "$D/panoptic_gt_val_city_vps.json" \
    --out "$OUT/$set-vpq" >/dev/null
  "$VPS" eval stq --pred "$OUT/$set-pred" --gt "$D/val/panoptic_video" --gt-json "$D/panoptic_gt_val_city_vps.json" \
    --out "$OUT/$set-stq" >"$OUT/$set-stq.txt"
done
echo "[demo] 4/6 GT | prediction pictures and GIFs of the val videos -> $OUT/vis"
"$VPS" vis --gt-json "$OUT/val/panoptic_gt_val_city_vps.json" --gt "$OUT/val/val/panoptic_video" --pred "$OUT/val-pred" \
  --out "$OUT/vis" --side-by-side --gif >/dev/null
echo "[demo] 5/6 scores (VPQ per window k: all / things / stuff; STQ; identities)"
for set in val heldout; do
  echo "== $set videos (never seen in training)"
  python3 scripts/vpq_rows.py "$OUT/$set-vpq/vpq.json"
  cat "$OUT/$set-stq.txt"
done
cp "$OUT/val-vpq/vpq-final.txt" "$OUT/vpq-final.txt"
echo "[demo] 6/6 the report: training curves, the tables of both sets, the GIFs -> $OUT/report/index.html"
"$VPS" report --run "$OUT/run" --eval "val=$OUT/val-vpq" --eval "val=$OUT/val-stq" --eval "held-out=$OUT/heldout-vpq" \
  --eval "held-out=$OUT/heldout-stq" --vis "$OUT/vis" --title "vps demo" --out "$OUT/report" >/dev/null
echo "[demo] done in $(($(date +%s) - t0)) s: $OUT/vpq-final.txt, $(ls "$OUT/vis" | wc -l) files in $OUT/vis"
echo "[demo] report: $OUT/report/index.html  (TensorBoard: tensorboard --logdir $OUT/run)"
