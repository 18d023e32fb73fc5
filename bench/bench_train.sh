#!/usr/bin/env bash
# One VPSNet-Track training step on a pair of 512x1024 frames (full model, random init): ours
# (vps train's Trainer on pairs from a `vps synth` set, fed by the background loader) vs the same step
# from PyTorch / torchvision ops (bench/train_torch.py), same threads, same run; plus the loader: the
# time the step waited for the next pair and the time to prepare one pair on its own.
# Usage: bench/bench_train.sh BUILD_DIR [--device cpu|cuda] [--tf32 0|1]
#        (THREADS defaults to nproc; SIZE "H W", default "512 1024"; REPS 2)
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
if smoke; then H=64 W=128 reps=1; fi
export OMP_NUM_THREADS=$threads
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/vps" synth --out "$tmp/data" --splits train --videos 1 --frames 8 --label-every 2 --width "$W" --height "$H" >/dev/null
"$build/vps_bench" train_step --device "$device" "$tmp/data" "$reps" | sed 's/^RESULT/OURS/' >"$tmp/ours"
gt=$(awk '$2 == "train_gt_instances" {print int($3)}' "$tmp/ours")
(cd bench && torch_py train_torch.py --device "$device" --tf32 "$tf32" "$threads" "$H" "$W" "${gt:-4}" "$reps") | sed 's/^RESULT/TORCH/' >"$tmp/torch"
echo "VPSNet-Track training step, pair of ${H}x${W} frames, $device$(tf32_note), $threads threads, median of $reps (GT instances: ${gt:-?})"
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
