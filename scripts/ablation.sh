#!/usr/bin/env bash
# make ablation: SiamTrack's ablation (paper Tables 1, 3, 4) on the embedded default. One synthetic
# dataset made for it (more videos, camera motion, objects whose paths cross, the exact flow of every
# +-10-frame pair and of consecutive labelled frames); from one initialisation (the same seed), the same
# data and iterations, train SiamTrack-Base (VPSNet-Track's losses on both frames of the pair) and
# +L_segment, +L_warp, +L_tube, +L_pixel (warp + tube) and the full model (configs/train_siamtrack_tiny.json);
# run each over the val videos, score VPQ (k = 0, 5, 10, 15 and final) and TC; write a markdown table.
# Knobs: ABL_ITERS (default 1200), ABL_SEEDS (default "0"; e.g. "0 1 2"), ABL_VIDEOS (per split, default 6),
# ABL_VARIANTS (default all six), ABL_SIZE ("W H", default "256 128"), ABL_OUT (default out/ablation).
# Outputs: $ABL_OUT/ (table.md, and per seed and variant the run,
# the prediction, vpq/ and tc/).
set -euo pipefail
B=${1:?usage: scripts/ablation.sh BUILD_DIR}
VPS="$B/vps"
OUT=${ABL_OUT:-out/ablation}
ITERS=${ABL_ITERS:-1200}
SEEDS=${ABL_SEEDS:-0}
VIDEOS=${ABL_VIDEOS:-6}
VARIANTS=${ABL_VARIANTS:-"base segment warp tube pixel full"}
read -r W H <<<"${ABL_SIZE:-256 128}"
command -v python3 >/dev/null || { echo "scripts/ablation.sh needs python3 (scripts/deps.sh bench)" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"
echo "[ablation] dataset: $VIDEOS train + $VIDEOS val videos x 30 frames at ${W}x${H}, camera motion, crossing objects"
"$VPS" synth --out "$OUT/data" --splits train,val --videos "$VIDEOS" --width "$W" --height "$H" --seed 11 \
  --camera-motion --crossing --flow-offsets -10,10,5 >/dev/null
GT="$OUT/data/val/panoptic_video"
GTJ="$OUT/data/panoptic_gt_val_city_vps.json"
terms() {  # the SiamTrack switches of a variant
  local s=false w=false t=false
  case "$1" in
    base) ;; segment) s=true ;; warp) w=true ;; tube) t=true ;; pixel) w=true t=true ;; full) s=true w=true t=true ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
  echo "model.siamtrack.contra_sem=$s model.siamtrack.contra_inst=$s model.siamtrack.warp=$w model.siamtrack.tube=$t"
}
rows="$OUT/rows.tsv"
: >"$rows"
for seed in $SEEDS; do
  for v in $VARIANTS; do
    R="$OUT/s$seed/$v"
    mkdir -p "$R"
    echo "[ablation] seed $seed, $v: train $ITERS iterations"
    # shellcheck disable=SC2046
    "$VPS" train --config configs/train_siamtrack_tiny.json --data "$OUT/data" --out "$R/run" seed="$seed" \
      max_iters="$ITERS" checkpoint_every="$ITERS" log_every=$((ITERS / 4)) "schedule.steps=[$((ITERS * 3 / 4))]" \
      "data.ref_offsets=[-2,2]" data.flow=true $(terms "$v") >"$R.train.log"
    python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["model"], open(sys.argv[2], "w"))' \
      "$R/run/config.json" "$R/model.json"
    "$VPS" infer --config "$R/model.json" --weights "$R/run/model.safetensors" --data "$OUT/data" --split val \
      --out "$R/pred" --stuff-area-limit 64 >/dev/null
    "$VPS" eval vpq --pred "$R/pred" --gt "$GT" --gt-json "$GTJ" --out "$R/vpq" >/dev/null
    "$VPS" eval tc --pred "$R/pred" --gt-json "$GTJ" --flow "$OUT/data/val/flow" --out "$R/tc" >/dev/null
    python3 - "$R" "$seed" "$v" >>"$rows" <<'PY'
import json, sys
r, seed, v = sys.argv[1:4]
j = json.load(open(r + "/vpq/vpq.json"))
ks = [w["all"]["pq"] for w in j["windows"]]
tc = json.load(open(r + "/tc/tc.json"))["tc"]
f = j["final"]
print("\t".join([seed, v] + ["%.1f" % k for k in ks] + ["%.1f" % f["vpq_all"], "%.1f" % f["vpq_thing"],
                 "%.1f" % f["vpq_stuff"], "%.3f" % tc]))
PY
    tail -n 1 "$rows"
  done
done
{
  echo "| seed | variant | VPQ k=0 | k=5 | k=10 | k=15 | VPQ | VPQ-th | VPQ-st | TC |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  awk -F'\t' '{ printf "| %s |", $1; for (i = 2; i <= NF; i++) printf " %s |", $i; printf "\n" }' "$rows"
} >"$OUT/table.md"
cat "$OUT/table.md"
