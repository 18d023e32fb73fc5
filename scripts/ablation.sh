#!/usr/bin/env bash
# make ablation: SiamTrack's ablation (paper Tables 1, 3, 4) on the demo's recipe (docs/recipe.md): from
# one initialisation (the same seed), the same data and iterations, train SiamTrack-Base (VPSNet-Track's
# losses on both frames of the pair) and +L_segment, +L_warp, +L_tube, +L_pixel (warp + tube) and the
# full model (configs/train_siamtrack_demo.json: the demo's model, schedule and track settings with
# SiamTrack's section); run each over the val videos, score VPQ (all / things / stuff for k = 0, 5, 10,
# 15 and final), STQ's AQ, IDF1 and TC; write a markdown table (scripts/ablation_table.py: every run, and
# the mean and range over seeds). The data: training videos labelled on every frame with the exact flow
# of each frame to its neighbours (the pairs are +-1 frame), val videos in the Cityscapes-VPS layout
# (every 5th frame labelled) with the flow between labelled frames (for TC); both with camera motion and
# objects whose paths cross.
# Knobs: ABL_ITERS (default 6000), ABL_SEEDS (default "0"; e.g. "0 1 2"), ABL_TRAIN_VIDEOS (default 48),
# ABL_VIDEOS (val videos, default 6), ABL_VARIANTS (default all six), ABL_JOBS (runs at once, default 1;
# 2 on 2 cores: each run gets one thread, the rows are the same), ABL_SIZE ("W H", default
# "256 128"), ABL_OUT (default out/ablation), ABL_README (a README whose ablation-table markers get the
# table: `ABL_README=README.md make ablation` regenerates the README's table; default none).
# Outputs: $ABL_OUT/ (rows.tsv, table.md, report/index.html: the variants side by side, seeds as ranges, with
# the first seed's training curves; and per seed and variant the run, the prediction, vpq/, stq/ and tc/);
# an earlier ablation's $ABL_OUT is replaced, any other non-empty folder refused.
set -euo pipefail
B=${1:?usage: scripts/ablation.sh BUILD_DIR}
VPS="$B/vps"
OUT=${ABL_OUT:-out/ablation}
ITERS=${ABL_ITERS:-6000}
SEEDS=${ABL_SEEDS:-0}
TRAIN_VIDEOS=${ABL_TRAIN_VIDEOS:-48}
VIDEOS=${ABL_VIDEOS:-6}
VARIANTS=${ABL_VARIANTS:-"base segment warp tube pixel full"}
JOBS=${ABL_JOBS:-1}
[[ "$JOBS" =~ ^[1-9][0-9]?$ ]] || { echo "scripts/ablation.sh: ABL_JOBS must be an integer in [1, 99], got '$JOBS'" >&2; exit 2; }
read -r W H <<<"${ABL_SIZE:-256 128}"
command -v python3 >/dev/null || { echo "scripts/ablation.sh needs python3 (scripts/deps.sh bench)" >&2; exit 1; }
# $OUT is replaced: refuse a non-empty folder that is not an earlier ablation's output (no rows.tsv).
if { [ -e "$OUT" ] && [ ! -d "$OUT" ]; } || { [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/rows.tsv" ]; }; then
  echo "scripts/ablation.sh: ABL_OUT=$OUT is a file or a non-empty folder without rows.tsv (not an ablation's output); not replacing it" >&2
  exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT"
rows="$OUT/rows.tsv"
: >"$rows"  # marks $OUT as an ablation output from the start
echo "[ablation] data: $TRAIN_VIDEOS training videos labelled on every frame, $VIDEOS val videos, 30 frames at ${W}x${H}"
"$VPS" synth --out "$OUT/train" --splits train --videos "$TRAIN_VIDEOS" --label-every 1 --width "$W" --height "$H" \
  --seed 11 --camera-motion --crossing --flow-offsets -1,1 >/dev/null
"$VPS" synth --out "$OUT/val" --splits val --videos "$VIDEOS" --width "$W" --height "$H" --seed 12 \
  --camera-motion --crossing --flow-offsets 5 >/dev/null
GT="$OUT/val/val/panoptic_video"
GTJ="$OUT/val/panoptic_gt_val_city_vps.json"
terms() {  # the SiamTrack switches of a variant
  local s=false w=false t=false
  case "$1" in
    base) ;; segment) s=true ;; warp) w=true ;; tube) t=true ;; pixel) w=true t=true ;; full) s=true w=true t=true ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
  echo "model.siamtrack.contra_sem=$s model.siamtrack.contra_inst=$s model.siamtrack.warp=$w model.siamtrack.tube=$t"
}
for v in $VARIANTS; do terms "$v" >/dev/null || exit 2; done  # inside $(...) an unknown name would not stop a run
run_one() {  # SEED VARIANT: train, infer and score one variant; its row goes to $OUT/s$SEED/$VARIANT.row
  local seed=$1 v=$2
  local R="$OUT/s$seed/$v"
  mkdir -p "$R"
  echo "[ablation] seed $seed, $v: train $ITERS iterations"
  # shellcheck disable=SC2046
  "$VPS" train --config configs/train_siamtrack_demo.json --data "$OUT/train" --out "$R/run" seed="$seed" \
    max_iters="$ITERS" checkpoint_every="$ITERS" log_every=$(((ITERS + 3) / 4)) "schedule.steps=[$((ITERS * 3 / 4))]" \
    $(terms "$v") >"$R.train.log"
  python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["model"], open(sys.argv[2], "w"))' \
    "$R/run/config.json" "$R/model.json"
  "$VPS" infer --config "$R/model.json" --weights "$R/run/model.safetensors" --data "$OUT/val" --split val \
    --out "$R/pred" --stuff-area-limit 64 >/dev/null 2>"$R.infer.log"
  "$VPS" eval vpq --pred "$R/pred" --gt "$GT" --gt-json "$GTJ" --out "$R/vpq" >/dev/null
  "$VPS" eval stq --pred "$R/pred" --gt "$GT" --gt-json "$GTJ" --out "$R/stq" >/dev/null
  "$VPS" eval tc --pred "$R/pred" --gt-json "$GTJ" --flow "$OUT/val/val/flow" --out "$R/tc" >/dev/null
  python3 scripts/ablation_table.py row "$R" "$seed" "$v" >"$R.row"
}
if [ "$JOBS" -le 1 ]; then
  for seed in $SEEDS; do
    for v in $VARIANTS; do
      run_one "$seed" "$v"
      cat "$OUT/s$seed/$v.row" >>"$rows"
      tail -n 1 "$rows"
    done
  done
else
  # JOBS runs at once, each on its share of the cores (training gives the same bits on any thread
  # count, so the rows are those of the one-by-one loop); the rows are joined in seed, variant order.
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(($(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1))}
  echo "[ablation] $JOBS runs at once, $OMP_NUM_THREADS thread(s) each"
  for seed in $SEEDS; do
    for v in $VARIANTS; do
      while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done  # failures: by their rows below
      run_one "$seed" "$v" &
    done
  done
  wait
  failed=0
  for seed in $SEEDS; do  # a run that failed left no row
    for v in $VARIANTS; do [ -s "$OUT/s$seed/$v.row" ] || { echo "[ablation] seed $seed, $v failed: see $OUT/s$seed/$v.*.log" >&2; failed=1; }; done
  done
  [ "$failed" = 0 ] || exit 1
  for seed in $SEEDS; do
    for v in $VARIANTS; do cat "$OUT/s$seed/$v.row" >>"$rows"; done
  done
  cat "$rows"
fi
python3 scripts/ablation_table.py table "$rows" >"$OUT/table.md.tmp" && mv "$OUT/table.md.tmp" "$OUT/table.md"
cat "$OUT/table.md"
if [ -n "${ABL_README:-}" ]; then
  python3 scripts/ablation_table.py readme "$ABL_README" "$OUT/table.md"
  echo "[ablation] the table is in $ABL_README"
fi
# the comparison report beside the table: one column per variant, its seeds as repeats (mean and range)
evals=()
for v in $VARIANTS; do
  for seed in $SEEDS; do evals+=(--eval "$v=$OUT/s$seed/$v"); done
done
first_seed=${SEEDS%% *}
first_variant=${VARIANTS%% *}
"$VPS" report --run "$OUT/s$first_seed/$first_variant/run" "${evals[@]}" --title "SiamTrack ablation ($ITERS iterations)" \
  --out "$OUT/report" >/dev/null
echo "[ablation] report: $OUT/report/index.html"
