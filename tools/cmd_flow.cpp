// `vps flow --weights FLOWNET2 --data DIR [--split train] --pairs offsets=-10,10 --out CACHE [--eval]`:
// flags -> infer/flow_cache.h (the cache and its end-point error).
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "data/fs_util.h"
#include "infer/flow_cache.h"
#include "models/weights_io.h"
#include "tensor/check.h"
#include "tools/command.h"

namespace {

std::vector<int> parse_pairs(const std::string& v) {
  const std::string prefix = "offsets=";
  if (v.rfind(prefix, 0) != 0)
    throw vps::cli::UsageError("vps flow: --pairs must be offsets=A,B,... (frames), got '" + v + "'");
  std::vector<int> out;
  std::string rest = v.substr(prefix.size());
  for (size_t pos = 0; pos <= rest.size();) {
    size_t comma = rest.find(',', pos);
    std::string item = rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    long k = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != 0 || k == 0 || k < -1000 || k > 1000)
      throw vps::cli::UsageError("vps flow: --pairs offset '" + item + "' must be a non-zero integer in [-1000, 1000]");
    out.push_back(int(k));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

int run_flow(const std::vector<std::string>& args) {
  vps::cli::Flags f("flow",
                    "FlowNet2's flow (VPSNet's compute_flow: 1/4 resolution, values x 0.25) of every (target, reference)\n"
                    "pair the trainer samples, one pair-flow file each in --out (float16 safetensors; docs/flownet2.md).\n"
                    "Resumable: files already there for the same pair and size are kept. --eval: the end-point error\n"
                    "against the dataset's exact flow (<data>/<split>/flow, vps synth --flow-offsets).");
  f.opt("weights", "", "FlowNet2 weights (vps convert FlowNet2_checkpoint.pth.tar X.safetensors --key state_dict)", true)
      .opt("data", "", "dataset root (Cityscapes-VPS layout)", true)
      .opt("split", "train", "split (train, val or test)")
      .opt("pairs", "offsets=-10,10", "offsets=A,B,...: reference frames A, B, ... frames away (clamped to the video)")
      .opt("out", "", "cache folder (created; reused when resuming)", true)
      .opt("width-divisor", "1", "FlowNet2 widths / N (1: the checkpoint's; reduced ones for tests)")
      .flag("float32", "store float32 instead of float16")
      .flag("eval", "print the end-point error against <data>/<split>/flow and write <out>/epe.json");
  if (!f.parse(args)) return 0;
  const std::vector<int> offsets = parse_pairs(f.get("pairs"));
  vps::data::CityscapesVps ds(f.get("data"), f.get_choice("split", {"train", "val", "test"}));
  vps::models::FlowNetOptions no;
  no.width_divisor = f.get_int("width-divisor", 1, 64);
  vps::models::FlowNet2 net(no);
  vps::models::load(net, f.get("weights"));
  int64_t missing = 0;
  std::vector<vps::infer::FlowPair> pairs = vps::infer::flow_pairs(ds, offsets, &missing);
  VPS_CHECK(!pairs.empty(), "vps flow: ", f.get("data"), " split ", ds.split(), " has no pair for offsets ", f.get("pairs"));
  vps::infer::FlowCacheOptions o;
  o.float16 = !f.on("float32");
  o.inputs = {f.get("data"), f.get("weights")};
  auto t0 = std::chrono::steady_clock::now();
  o.progress = [&](int64_t done, int64_t total, int64_t computed) {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double per = computed > 0 ? s / double(computed) : 0;
    std::printf("vps flow: %lld/%lld pairs (%lld computed), %.1f s, ETA %.0f s\n", (long long)done, (long long)total,
                (long long)computed, s, per * double(total - done));
    std::fflush(stdout);
  };
  vps::infer::FlowCacheStats st = vps::infer::compute_flow_cache(net, pairs, f.get("out"), o);
  std::printf("vps flow: %lld pairs in %s: %lld computed, %lld kept%s\n", (long long)st.pairs, f.get("out").c_str(),
              (long long)st.computed, (long long)st.kept,
              missing ? (", " + std::to_string(missing) + " without a reference frame skipped").c_str() : "");
  if (!f.on("eval")) return 0;
  const vps::infer::CacheEpe r = vps::infer::evaluate_flow_cache(
      pairs, f.get("out"), vps::data::join_path(f.get("data"), ds.split() + "/flow"));
  std::printf("vps flow --eval: EPE %.4f px at 1/4 resolution (%.4f full-resolution px) over %lld pairs\n", r.epe,
              4 * r.epe, (long long)r.pairs);
  return 0;
}

}  // namespace

VPS_COMMAND("flow", "FlowNet2 flow of every training pair into a cache (for SiamTrack's warping loss)", run_flow);
