#!/usr/bin/env bash
# The added cost of SiamTrack's projection head and losses per training step (forward_train + backward,
# CPU) against SiamTrack-Base's step in the same run (bench/siamtrack_bench.cpp): one synthetic pair.
# Usage: bench/bench_siamtrack.sh BUILD_DIR   (THREADS defaults to nproc; SIZE "H W", default "256 512";
# CONFIG, default configs/siamtrack_r50.json; REPS 3)
set -euo pipefail
source bench/common.sh
build=${1:?usage: bench/bench_siamtrack.sh BUILD_DIR}
threads=${THREADS:-$(nproc)}
size=${SIZE:-"256 512"}
config=${CONFIG:-configs/siamtrack_r50.json}
reps=${REPS:-3}
if smoke; then size="64 128" config=configs/siamtrack_tiny.json reps=1; fi
export OMP_NUM_THREADS=$threads
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
read -r h w <<<"$size"
"$build/vps" synth --out "$tmp/data" --splits train --videos 1 --frames 4 --label-every 2 --width "$w" --height "$h" >/dev/null
"$build/vps_bench" siamtrack_step "$tmp/data" "$config" "$reps" >"$tmp/out"
echo "SiamTrack training step, CPU, $threads threads, median of $reps ($config, ${h}x${w})"
awk '
  $1 == "RESULT" { ms[$2] = $3; shape = $4 }
  END {
    base = ms["siamtrack_step_base"]
    printf "%-28s %10s %10s %8s\n", "variant", "ms/step", "added ms", "vs base"
    n = split("base pixel full", v, " ")
    for (i = 1; i <= n; i++) {
      k = "siamtrack_step_" v[i]
      printf "%-28s %10.1f %10.1f %8.2f\n", v[i], ms[k], ms[k] - base, ms[k] / base
    }
    print "(base: VPSNet-Track losses on both frames; pixel: + L_warp + L_tube; full: + projection head, L_contra_sem, L_contra_inst)"
  }' "$tmp/out"
