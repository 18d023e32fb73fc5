// `vps synth`: generate the synthetic Cityscapes-VPS dataset (flags only; the work is in data/synth.cpp).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "data/fs_util.h"

#include "data/synth.h"
#include "data/viper_layout.h"
#include "tools/command.h"

namespace {

int parse_offset(const std::string& v, int frames) {
  char* end = nullptr;
  long k = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != 0 || k <= -frames || k >= frames || k == 0)
    throw vps::cli::UsageError("vps synth: --flow-offsets item '" + v + "' must be a non-zero integer in (-" +
                               std::to_string(frames) + ", " + std::to_string(frames) + ")");
  return int(k);
}

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
      .opt("png-level", "6", "zlib compression level of the PNGs (0-9)")
      .opt("flow-offsets", "", "frame offsets, e.g. -10,10: exact forward flow of each labelled frame to <split>/flow/")
      .flag("camera-motion", "a faster camera pan that moves the objects too (SiamTrack ablation data)")
      .flag("crossing", "add two objects per video whose paths cross, one occluding the other")
      .flag("viper-layout", "write the VIPER VPS layout (viper_panoptic_<split>_video.json, 23 classes) instead")
      .flag("force", "replace a non-empty --out folder as a whole");
  if (!f.parse(args)) return 0;
  vps::data::SynthOptions o;
  o.videos = f.get_int("videos", 1, 10000);
  o.frames = f.get_int("frames", 1, 100000);
  o.label_every = f.get_int("label-every", 1, o.frames);
  o.width = f.get_int("width", 32, 8192);
  o.height = f.get_int("height", 32, 8192);
  o.seed = uint64_t(f.get_int64("seed", 0, INT64_MAX));
  o.images = f.get_list("images", {"all", "labelled", "none"}).at(0);
  o.png_level = f.get_int("png-level", 0, 9);
  o.splits = f.get_list("splits", {"train", "val", "test"});
  o.camera_motion = f.on("camera-motion");
  o.crossing = f.on("crossing");
  if (!f.get("flow-offsets").empty())
    for (const std::string& v : f.get_list("flow-offsets")) o.flow_offsets.push_back(parse_offset(v, o.frames));
  const std::string layout_problem = vps::data::synth_layout_problem(o);
  if (!layout_problem.empty()) throw vps::cli::UsageError("vps synth: " + layout_problem);
  vps::data::OutputDir out(f.get("out"), f.on("force"));
  vps::data::check_free_disk(out.path(), vps::data::synth_disk_bytes_lower_bound(o), "vps synth");
  if (f.on("viper-layout") && !o.flow_offsets.empty())
    throw vps::cli::UsageError("vps synth: --flow-offsets is not written in the --viper-layout (Cityscapes-VPS only)");
  if (f.on("viper-layout")) {  // the Cityscapes-VPS tree first, then its VIPER form beside it
    const std::string cvps = vps::data::join_path(out.path(), ".cityscapes_vps");
    vps::data::write_synthetic_dataset(cvps, o);
    vps::data::write_viper_layout(cvps, out.path(), o.splits, o.label_every);
    vps::data::remove_tree(cvps);
  } else {
    vps::data::write_synthetic_dataset(out.path(), o);
  }
  out.commit();
  std::printf("vps synth: wrote %d video(s) per split x %d frames at %dx%d to %s\n", o.videos, o.frames, o.width,
              o.height, f.get("out").c_str());
  return 0;
}

}  // namespace

VPS_COMMAND("synth", "generate a synthetic Cityscapes-VPS dataset", run_synth);
