// `vps synth`: generate the synthetic Cityscapes-VPS dataset (flags only; the work is in data/synth.cpp).
#include <cstdio>
#include <sstream>

#include "data/synth.h"
#include "tools/command.h"

namespace {

int run_synth(const std::vector<std::string>& args) {
  vps::cli::Flags f("synth", "Write a procedural driving-like VPS dataset in the exact Cityscapes-VPS layout.");
  f.opt("out", "", "output dataset root", true)
      .opt("videos", "2", "videos per split")
      .opt("frames", "30", "frames per video")
      .opt("label-every", "5", "every N-th frame is labelled (frames N, 2N, ... 1-based)")
      .opt("width", "256", "image width")
      .opt("height", "128", "image height")
      .opt("seed", "1", "random seed (same seed, same bytes)")
      .opt("splits", "train,val", "comma-separated subset of train,val,test")
      .opt("images", "all", "all | labelled | none (none: labels and JSON only)")
      .opt("png-level", "6", "zlib compression level of the PNGs (0-9)");
  if (!f.parse(args)) return 0;
  vps::data::SynthOptions o;
  o.videos = f.get_int("videos");
  o.frames = f.get_int("frames");
  o.label_every = f.get_int("label-every");
  o.width = f.get_int("width");
  o.height = f.get_int("height");
  o.seed = uint64_t(f.get_int("seed"));
  o.images = f.get("images");
  o.png_level = f.get_int("png-level");
  o.splits.clear();
  std::stringstream ss(f.get("splits"));
  for (std::string s; std::getline(ss, s, ',');) {
    if (s != "train" && s != "val" && s != "test") throw vps::cli::UsageError("vps synth: unknown split '" + s + "'");
    o.splits.push_back(s);
  }
  if (o.png_level < 0 || o.png_level > 9) throw vps::cli::UsageError("vps synth: --png-level must be 0..9");
  vps::data::write_synthetic_dataset(f.get("out"), o);
  std::printf("vps synth: wrote %d video(s) per split x %d frames at %dx%d to %s\n", o.videos, o.frames, o.width,
              o.height, f.get("out").c_str());
  return 0;
}

}  // namespace

VPS_COMMAND("synth", "generate a synthetic Cityscapes-VPS dataset", run_synth);
