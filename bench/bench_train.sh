#!/usr/bin/env bash
# VPSNet-Track training steps, ours vs the same step from PyTorch / torchvision ops (bench/train_torch.py),
# same threads, same run, two models:
#   - the full model (configs/train_vpsnet_r50.json, random init) on a pair of SIZE frames (default
#     512x1024), with the loader: the time the step waited for the next pair and one pair prepared alone;
#   - the demo's tiny model (configs/train_demo.json: ResNet-18 layout at width 8, FPN 16) on a pair of
#     256x128 frames, the step `make demo` repeats 6000 times.
# Ours is vps train's Trainer on pairs from a `vps synth` set, fed by the background loader.
# Usage: bench/bench_train.sh BUILD_DIR [--device cpu|cuda] [--tf32 0|1]
#        (THREADS defaults to nproc; SIZE "H W", default "512 1024"; REPS 2 for the full model, TINY_REPS
#        20 for the tiny one)
# On a GPU the loader stays on the CPU and the pair is copied to the GPU inside the timed step.
set -euo pipefail
source bench/common.sh
parse_bench_args "$@"
set -- "${bench_pos[@]}"
require_torch
build=${1:?usage: bench/bench_train.sh BUILD_DIR}
threads=${THREADS:-$(nproc)}
read -r H W <<<"${SIZE:-512 1024}"
reps=${REPS:-2}
tiny_reps=${TINY_REPS:-20}
if smoke; then H=64 W=128 reps=1 tiny_reps=1; fi
export OMP_NUM_THREADS=$threads
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# CASE TRAIN_CONFIG TORCH_MODEL H W REPS
step_case() {
  local name=$1 config=$2 model=$3 h=$4 w=$5 n=$6
  rm -rf "$tmp/data"
  "$build/vps" synth --out "$tmp/data" --splits train --videos 1 --frames 8 --label-every 2 --width "$w" --height "$h" >/dev/null
  "$build/vps_bench" train_step --device "$device" "$tmp/data" "$n" "$config" | sed 's/^RESULT/OURS/' >"$tmp/ours"
  local gt
  gt=$(awk '$2 == "train_gt_instances" {print int($3)}' "$tmp/ours")
  (cd bench && torch_py train_torch.py --device "$device" --tf32 "$tf32" --model "$model" "$threads" "$h" "$w" "${gt:-4}" "$n") |
    sed 's/^RESULT/TORCH/' >"$tmp/torch"
  echo "VPSNet-Track training step, $name, pair of ${h}x${w} frames, $device$(tf32_note), $threads threads, median of $n (GT instances: ${gt:-?})"
  awk '
    $1 == "OURS"  { ours[$2] = $3; order[++n] = $2 }
    $1 == "TORCH" { torch[$2] = $3 }
    END {
      printf "%-22s %12s %12s %7s\n", "measure", "ours", "torch", "ratio"
      for (i = 1; i <= n; i++) {
        k = order[i]; t = torch[k]; if (t == "") t = "-"
        r = (t == "-" || t == 0) ? "-" : sprintf("%.2f", ours[k] / t)
        printf "%-22s %12.1f %12s %7s\n", k, ours[k], t, r
      }
      if (ours["train_step"] > 0)
        printf "data wait / step = %.1f%%; one pair prepared alone = %.1f%% of a step (%.2f pairs/s vs %.2f steps/s)\n",
          100 * ours["train_data_wait"] / ours["train_step"], 100 * ours["train_loader_sample"] / ours["train_step"],
          1000 / ours["train_loader_sample"], 1000 / ours["train_step"]
      print "(ms; peak_rss_mb = MB of the whole process; peak_gpu_mb = MB of tensors on the GPU)"
    }' "$tmp/ours" "$tmp/torch"
}

step_case "full model (configs/train_vpsnet_r50.json)" configs/train_vpsnet_r50.json r50 "$H" "$W" "$reps"
if smoke; then step_case "tiny demo model (configs/train_demo.json)" configs/train_demo.json tiny 64 128 "$tiny_reps"
else step_case "tiny demo model (configs/train_demo.json)" configs/train_demo.json tiny 128 256 "$tiny_reps"; fi
