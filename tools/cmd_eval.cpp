// `vps eval vpq|stq|tc|perturb`: flags only; the metrics and their reports live in eval/.
#include <cstdio>

#include "data/fs_util.h"
#include "data/panoptic.h"

#include "eval/pan_set.h"
#include "eval/perturb.h"
#include "eval/stq.h"
#include "eval/tc.h"
#include "eval/vpq.h"
#include "tools/command.h"

namespace {

using vps::cli::Flags;
using vps::cli::UsageError;

vps::cli::Flags& io_flags(Flags& f) {
  return f.opt("pred", "", "prediction folder holding pan_pred/ and pred.json", true)
      .opt("gt", "", "GT panoptic_video folder", true)
      .opt("gt-json", "", "GT json (panoptic_gt_val_city_vps.json)", true)
      .opt("out", "", "output folder for the reports", true)
      .opt("video-len", "6", "labelled frames per video (videos = frames // video-len), 1..100000")
      .opt("threads", "0", "worker threads (0: all cores), 0..1024")
      .opt("max-pixels", "134217728", "largest PNG accepted, in pixels (checked before decoding)")
      .flag("force", "replace a non-empty --out folder as a whole");
}

int video_len_flag(const Flags& f) { return f.get_int("video-len", 1, 100000); }
// The input paths a command of this file reads (its --out must not be or hold any of them).
std::vector<std::string> inputs_of(const Flags& f) {
  std::vector<std::string> in;
  for (const char* k : {"pred", "gt", "gt-json", "flow"})
    if (f.defines(k)) in.push_back(f.get(k));
  return in;
}
int threads_flag(const Flags& f) { return f.get_int("threads", 0, vps::cli::kThreadsFlagMax); }
int64_t max_pixels_flag(const Flags& f) { return f.get_int64("max-pixels", 1, int64_t(1) << 32); }

int run_vpq(const std::vector<std::string>& args) {
  Flags f("eval vpq", "Video Panoptic Quality as the official Cityscapes-VPS evaluator (after its 2020-09-30 fix).");
  io_flags(f).flag("viper", "VIPER mode: windows of 5/10/15 frames, tubes < 32x32 ignored, class 11 excluded");
  if (!f.parse(args)) return 0;
  vps::eval::VpqOptions o;
  o.video_len = video_len_flag(f);
  o.threads = threads_flag(f);
  o.viper = f.on("viper");
  vps::data::OutputDir out(f.get("out"), f.on("force"), inputs_of(f));
  auto set = vps::eval::load_pan_set(f.get("pred"), f.get("gt"), f.get("gt-json"), o.video_len, max_pixels_flag(f));
  auto r = vps::eval::evaluate_vpq(set, o);
  vps::eval::write_vpq_reports(r, out.path());
  out.commit();
  for (const auto& w : r.windows)
    std::printf("%-8s VPQ %6.2f  thing %6.2f  stuff %6.2f\n", w.name.c_str(), 100 * w.all.pq, 100 * w.things.pq,
                100 * w.stuff.pq);
  std::printf("vpq_all:%.4f\nvpq_thing:%.4f\nvpq_stuff:%.4f\n", r.final_all, r.final_thing, r.final_stuff);
  return 0;
}

int run_stq(const std::vector<std::string>& args) {
  Flags f("eval stq", "Segmentation and Tracking Quality (STQ = sqrt(AQ * SQ)), plus per-frame PQ and mIoU.");
  io_flags(f);
  if (!f.parse(args)) return 0;
  int video_len = video_len_flag(f), threads = threads_flag(f);
  vps::data::OutputDir out(f.get("out"), f.on("force"), inputs_of(f));
  auto set = vps::eval::load_pan_set(f.get("pred"), f.get("gt"), f.get("gt-json"), video_len, max_pixels_flag(f));
  auto r = vps::eval::evaluate_stq(set, threads);
  vps::eval::write_stq_report(r, out.path());
  out.commit();
  std::printf("STQ %.4f  AQ %.4f  SQ(mIoU) %.4f  PQ %.4f\n", r.stq, r.aq, r.sq, r.pq);
  std::printf("IDF1 %.4f  ID switches %lld  matched %lld of %lld GT thing instances\n", r.ids.all.idf1(),
              (long long)r.ids.all.switches, (long long)r.ids.all.matched, (long long)r.ids.all.gt);
  for (const auto& c : set.categories) {
    auto it = r.ids.per_class.find(c.id);
    if (c.isthing && it != r.ids.per_class.end())
      std::printf("  %-12s IDF1 %.4f  ID switches %lld  matched %lld of %lld\n", c.name.c_str(), it->second.idf1(),
                  (long long)it->second.switches, (long long)it->second.matched, (long long)it->second.gt);
  }
  return 0;
}

int run_tc(const std::vector<std::string>& args) {
  Flags f("eval tc", "Temporal consistency: mIoU of each frame's semantic prediction and the next one's warped by the flow.");
  f.opt("pred", "", "prediction folder holding pan_pred/ and pred.json", true)
      .opt("gt-json", "", "GT json (the frame list, sizes and categories)", true)
      .opt("flow", "", "folder of pair flows (vps synth --flow-offsets, or a vps flow cache)", true)
      .opt("out", "", "output folder for tc.json", true)
      .opt("mode", "clean", "clean (nearest warp, valid pixels, present classes) | etc (ETC's eval_tc.py)")
      .opt("step", "1", "pairs (i, i + step) of labelled frames of one video, 1..1000")
      .opt("video-len", "6", "labelled frames per video (videos = frames // video-len), 1..100000")
      .opt("max-pixels", "134217728", "largest PNG accepted, in pixels (checked before decoding)")
      .flag("force", "replace a non-empty --out folder as a whole");
  if (!f.parse(args)) return 0;
  vps::eval::TcOptions o;
  std::string mode = f.get_choice("mode", {"clean", "etc"});
  o.mode = mode == "etc" ? vps::eval::TcMode::etc : vps::eval::TcMode::clean;
  o.step = f.get_int("step", 1, 1000);
  o.video_len = video_len_flag(f);
  o.max_pixels = max_pixels_flag(f);
  vps::data::OutputDir out(f.get("out"), f.on("force"), inputs_of(f));
  auto r = vps::eval::evaluate_tc(f.get("pred"), f.get("gt-json"), f.get("flow"), o);
  vps::eval::write_tc_report(r, o, out.path());
  out.commit();
  std::printf("TC (%s, %lld pairs) %.4f\ntc:%.4f\n", mode.c_str(), (long long)r.counts.pairs, r.tc, r.tc);
  return 0;
}

int run_perturb(const std::vector<std::string>& args) {
  Flags f("eval perturb", "Write a prediction made from the GT, optionally perturbed (for checks and benchmarks).");
  f.opt("gt", "", "GT panoptic_video folder", true)
      .opt("gt-json", "", "GT json", true)
      .opt("out", "", "output prediction folder (pan_pred/ + pred.json)", true)
      .opt("mode", "none", "comma list of none, drop, swap, erode, class, merge")
      .opt("percent", "50", "share of thing objects affected (drop, swap, class, merge), 0..100")
      .opt("radius", "2", "erosion radius in pixels, 0..64")
      .opt("video-len", "6", "labelled frames per video, 1..100000")
      .opt("max-pixels", "134217728", "largest PNG accepted, in pixels (checked before decoding)")
      .flag("force", "replace a non-empty --out folder as a whole");
  if (!f.parse(args)) return 0;
  vps::eval::PerturbOptions o;
  o.modes.clear();
  for (const auto& m : f.get_list("mode", {"none", "drop", "swap", "erode", "class", "merge"}))
    o.modes.push_back(vps::eval::parse_perturb(m));
  o.percent = f.get_int("percent", 0, 100);
  o.radius = f.get_int("radius", 0, 64);
  o.video_len = video_len_flag(f);
  o.max_pixels = max_pixels_flag(f);
  vps::data::OutputDir out(f.get("out"), f.on("force"), inputs_of(f));
  vps::eval::write_perturbed_prediction(f.get("gt"), f.get("gt-json"), out.path(), o);
  out.commit();
  return 0;
}

int run_eval(const std::vector<std::string>& args) {
  const char* usage =
      "usage: vps eval <vpq|stq|tc|perturb> [flags]   (vps eval <mode> --help for its flags)\n"
      "  vpq      Video Panoptic Quality (Cityscapes-VPS official protocol; --viper for VIPER)\n"
      "  stq      Segmentation and Tracking Quality, per-frame PQ and mIoU\n"
      "  tc       temporal consistency of the semantic prediction along a pair flow\n"
      "  perturb  make a (perturbed) prediction from a GT set";
  if (args.empty()) throw UsageError(usage);
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "vpq") return run_vpq(rest);
  if (args[0] == "stq") return run_stq(rest);
  if (args[0] == "tc") return run_tc(rest);
  if (args[0] == "perturb") return run_perturb(rest);
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf("%s\n", usage);
    return 0;
  }
  throw UsageError(std::string("vps eval: unknown mode '") + args[0] + "'\n" + usage);
}

}  // namespace

VPS_COMMAND("eval", "evaluate panoptic video predictions (VPQ, STQ, TC)", run_eval);
