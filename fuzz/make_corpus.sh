#!/usr/bin/env bash
# Rebuilds the seed corpora fuzz/corpus/<target>/ from the test fixtures and a tiny `vps synth`
# dataset (run from the repository root after `make`; the result is committed):
#   bash fuzz/make_corpus.sh [BUILD]      BUILD defaults to build/current
set -euo pipefail
build=${1:-build/current}
vps=$build/vps
out=fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out"/{png,jpeg,safetensors,npy,pth,unpickler,pan_json,cvps_json,pair_flow,train_config}

cp tests/fixtures/npy/*.npy "$out/npy/"
cp tests/fixtures/pth/*.safetensors "$out/safetensors/"
cp tests/fixtures/pth/*.pth "$out/pth/"
# Pickles: data.pkl of every zip checkpoint, and the legacy files (a pickle stream from byte 0).
i=0
for f in tests/fixtures/pth/*.pth; do
  if unzip -Z1 "$f" >/dev/null 2>&1; then
    for m in $(unzip -Z1 "$f" | grep 'data\.pkl$'); do unzip -p "$f" "$m" >"$out/unpickler/zip_$i.pkl"; i=$((i + 1)); done
  else
    cp "$f" "$out/unpickler/legacy_$(basename "$f" .pth).pkl"
  fi
done

# A dataset of 2 labelled frames of 32x32: its PNGs, JSON index and a prediction made from its GT.
"$vps" synth --out "$tmp/ds" --videos 1 --frames 4 --label-every 2 --width 32 --height 32 --splits train >/dev/null
cp "$tmp"/ds/train/img/*.png "$out/png/"
cp "$tmp"/ds/train/panoptic_video/*.png "$out/png/"
"$vps" eval perturb --gt "$tmp/ds/train/panoptic_video" --gt-json "$tmp/ds/panoptic_gt_train_city_vps.json" \
  --out "$tmp/pred" --mode drop,erode --video-len 2 >/dev/null
{ cat "$tmp/ds/panoptic_gt_train_city_vps.json"; printf '\0'; cat "$tmp/pred/pred.json"; } >"$out/pan_json/gt_pred.json"
cp "$tmp/ds/panoptic_gt_train_city_vps.json" "$out/pan_json/gt_only.json"
{ cat "$tmp/ds/panoptic_im_train_city_vps.json"; printf '\0'; cat "$tmp/ds/panoptic_gt_train_city_vps.json"; printf '\0';
  cat "$tmp/ds/instances_train_city_vps_rle.json"; printf '\0'; } >"$out/cvps_json/im_gt_inst.json"
{ cat "$tmp/ds/panoptic_im_train_city_vps.json"; printf '\0\0'; cat "$tmp/ds/instances_train_city_vps_rle.json"; } \
  >"$out/cvps_json/im_inst.json"

# Pair-flow files: the exact flows of a tiny dataset (float32 and float16 as vps synth writes them).
"$vps" synth --out "$tmp/fl" --videos 1 --frames 4 --label-every 2 --width 32 --height 32 --splits train \
  --flow-offsets -1,1 >/dev/null
i=0
for f in "$tmp"/fl/train/flow/*.safetensors; do cp "$f" "$out/pair_flow/flow_$i.safetensors"; i=$((i + 1)); done
# Train configs with their model inline (the fuzzer's scratch folder holds no model file).
python3 - "$out/train_config" <<'PY'
import json, os, sys
for name in sorted(os.listdir("configs")):
    if not name.startswith("train_") or "r50" in name:
        continue
    cfg = json.load(open(os.path.join("configs", name)))
    cfg["model"] = json.load(open(os.path.join("configs", cfg["model"])))
    json.dump(cfg, open(os.path.join(sys.argv[1], name), "w"), indent=1)
PY

# JPEGs (baseline colour, grayscale, progressive, restart markers) written with libjpeg.
cat >"$tmp/jpg.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
static void put(const char* path, int w, int h, int comps, int progressive, int restart) {
  struct jpeg_compress_struct c; struct jpeg_error_mgr e;
  c.err = jpeg_std_error(&e); jpeg_create_compress(&c);
  FILE* f = fopen(path, "wb"); jpeg_stdio_dest(&c, f);
  c.image_width = w; c.image_height = h; c.input_components = comps;
  c.in_color_space = comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c); jpeg_set_quality(&c, 75, 1);
  if (progressive) jpeg_simple_progression(&c);
  c.restart_interval = restart;
  jpeg_start_compress(&c, 1);
  unsigned char* row = malloc(w * comps);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w * comps; ++x) row[x] = (unsigned char)(x * 7 + y * 13);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c); fclose(f); free(row); jpeg_destroy_compress(&c);
}
int main(int argc, char** argv) {
  char p[4096];
  snprintf(p, sizeof p, "%s/rgb.jpg", argv[1]); put(p, 24, 16, 3, 0, 0);
  snprintf(p, sizeof p, "%s/gray.jpg", argv[1]); put(p, 17, 9, 1, 0, 0);
  snprintf(p, sizeof p, "%s/progressive.jpg", argv[1]); put(p, 16, 16, 3, 1, 0);
  snprintf(p, sizeof p, "%s/restart.jpg", argv[1]); put(p, 32, 16, 3, 0, 1);
  return 0;
}
C
cc "$tmp/jpg.c" -ljpeg -o "$tmp/jpg"
"$tmp/jpg" "$out/jpeg"
for t in "$out"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds, $(du -sk "$t" | cut -f1) KB"; done
