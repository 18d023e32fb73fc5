// `vps infer --config C --weights W (--data DIR [--split val] | --frames DIR) --out PRED`: flags ->
// infer/video_runner.h; `--shard i/n`, one shard per rank under mpirun/srun and `--merge` -> infer/shards.h.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "infer/shards.h"
#include "infer/video_runner.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "tensor/blas.h"
#include "tensor/check.h"
#include "tools/command.h"
#include "train/distributed.h"

namespace {

int run_infer(const std::vector<std::string>& args) {
  vps::cli::Flags f("infer",
                    "Run VPSNet-Track over every video of a Cityscapes-VPS layout dataset (all frames in img_all, in time\n"
                    "order, the tracker reset per video) and write the labelled frames' predictions as pan_pred/*.png +\n"
                    "pred.json, the format `vps eval vpq` and the official evaluator read. Or --frames: a folder of frames\n"
                    "of one video of your own (no GT), every frame written. Progress goes to stderr.\n"
                    "--shard i/n runs every n-th video from the i-th; under mpirun/srun each rank runs its shard and rank 0\n"
                    "merges them into --out; --merge --data DIR --out PRED SHARD... joins shard folders (docs/distributed.md).\n" +
                        std::string(vps::cli::kThreadsHelp));
  f.opt("config", "", "model config JSON (e.g. configs/vpsnet_track_r50.json) (required unless --merge)")
      .opt("weights", "", "weights: .safetensors or PyTorch .pth (converted VPSNet checkpoints load by name) (required unless --merge)")
      .opt("data", "", "dataset root (Cityscapes-VPS layout, e.g. from `vps synth`)")
      .opt("frames", "", "a folder of .png/.jpg frames of one video, in name order (instead of --data)")
      .opt("dump", "", "per-frame tensors to <out>/dump/<frame>.safetensors: fpn,fcn_output,panoptic_logits,detections")
      .opt("split", "val", "split to run (val or test need img_all)")
      .opt("out", "", "output prediction folder", true)
      .opt("stuff-area-limit", "2048", "stuff classes with fewer pixels become void (VPSNet's export)")
      .opt("max-pixels", "0", "largest frame in pixels, refused by name before it is decoded (0: half of this machine's memory at about 215 bytes a pixel)")
      .opt("stuff-majority", "0.5", "an instance region goes to a stuff class holding at least this fraction of it (VPSNet: 0.5; 1.01: never)")
      .opt("precision", "f32", "f32, or bf16: the convolutions' and linear layers' inputs rounded to bf16, summed in float32 (CPUs with AVX-512; faster, docs/conv.md has the error and the speed)")
      .opt("object-ids", "vpsnet", "vpsnet (the id of the idx-th instance present, as VPSNet) or instance (each instance's own id)")
      .flag("vis", "with --frames: colour overlays <out>/vis/<frame>.png and <out>/vis/video.gif")
      .flag("non-strict", "allow keys missing from the weights file (they keep their initial values)")
      .opt("shard", "", "i/n: run the videos v of --data with v % n == i (shard folders: --merge)")
      .opt("dist-timeout", "86400", "under mpirun: seconds rank 0 waits for the other shards before stopping with an error naming them")
      .flag("merge", "join the shard folders given as arguments into --out (needs --data and --split, no model)")
      .flag("force", "replace a non-empty --out folder as a whole")
      .positionals("[SHARD_DIR ...] (with --merge)", 0, 100000);
  if (!f.parse(args)) return 0;
  if (f.get("data").empty() == f.get("frames").empty())
    throw vps::cli::UsageError("vps infer: give exactly one of --data DIR or --frames DIR");
  std::string split = f.get_choice("split", {"train", "val", "test"});
  if (f.on("merge")) {
    if (f.get("data").empty()) throw vps::cli::UsageError("vps infer --merge: needs --data (the shards' dataset)");
    vps::infer::merge_shards(f.get("data"), split, f.positional(), f.get("out"), f.on("force"));
    std::printf("vps infer: %zu shards merged into %s\n", f.positional().size(), f.get("out").c_str());
    return 0;
  }
  if (!f.positional().empty()) throw vps::cli::UsageError("vps infer: shard folders are arguments of --merge only");
  for (const char* required : {"config", "weights"})
    if (f.get(required).empty()) throw vps::cli::UsageError(std::string("vps infer: missing required flag --") + required + "\n" + f.help());
  if (!f.get("shard").empty()) {  // a malformed --shard is a usage error (exit 2), like the other flags
    try {
      if (vps::infer::parse_shard(f.get("shard")).count > 1 && f.get("data").empty())
        throw vps::cli::UsageError("vps infer --shard: shards are of --data videos, not --frames");
    } catch (const vps::Error& e) {
      throw vps::cli::UsageError("vps infer: " + vps::cli::strip_source_locations(e.what()));
    }
  }
  // one shard per rank under mpirun / srun (unless --shard says which), rank 0 merging them at the end
  const vps::train::LaunchInfo launch = vps::train::launch_info([](const char* n) { return std::getenv(n); });
  const vps::infer::ShardPlan plan = vps::infer::plan_shards(f.get("shard"), f.get("out"), launch, [&] {
    return f.get_double("dist-timeout", 1e-3, 1e9);
  });
  const vps::infer::ShardSpec shard = plan.shard;
  VPS_CHECK(shard.count == 1 || !f.get("data").empty(), "vps infer: shards (one per rank) are of --data videos, not --frames");
  const std::string& out_dir = plan.out_dir;
  std::vector<std::string> dump = f.get("dump").empty() ? std::vector<std::string>{} : f.get_list("dump", vps::infer::dump_names());
  int64_t limit = f.get_int64("stuff-area-limit", 0, int64_t(1) << 40);
  const int64_t max_pixels = f.get_int64("max-pixels", 0, int64_t(1) << 32);
  vps::infer::UnifyRules unify;  // the flags are checked before the model is built
  unify.stuff_majority = f.get_double("stuff-majority", 0, 2);
  unify.ids_by_instance = f.get_choice("object-ids", {"vpsnet", "instance"}) == "instance";
  const bool bf16 = f.get_choice("precision", {"f32", "bf16"}) == "bf16";
  if (bf16 && !vps::blas::bf16_gemm_unavailable().empty())
    throw vps::cli::UsageError("vps infer --precision bf16: " + vps::blas::bf16_gemm_unavailable());
  auto model = std::dynamic_pointer_cast<vps::models::VPSNetTrack>(vps::models::build_model_from_file(f.get("config")));
  VPS_CHECK(model, "vps infer: ", f.get("config"), " does not build a VPSNetTrack model");
  vps::models::LoadOptions lo;
  lo.strict = !f.on("non-strict");
  lo.optional_prefixes = model->training_only_prefixes();
  const vps::KeyReport keys = vps::models::load(*model, f.get("weights"), lo);
  if (!lo.strict && !keys.ok())  // say what --non-strict let through (strict refuses all of it)
    std::fprintf(stderr, "vps infer: --non-strict load of %s:\n%s", f.get("weights").c_str(),
                 vps::models::partial_load_summary(keys).c_str());
  if (bf16) model->set_matmul_precision(vps::MatmulPrecision::bf16);
  vps::infer::InferOptions o;
  o.split = split;
  o.stuff_area_limit = limit;
  o.max_pixels = max_pixels;
  o.unify = unify;
  o.force = f.on("force");
  o.dump = dump;
  o.vis = f.on("vis");
  o.shard = shard.index;
  o.shards = shard.count;
  auto t0 = std::chrono::steady_clock::now();
  // On a terminal one line updated in place; otherwise (a log file) a line every 10% of the frames.
  const bool tty = isatty(fileno(stderr));
  int64_t last_tenth = -1;
  o.progress = [&](int64_t v, int64_t nv, int64_t done, int64_t total) {
    int64_t tenth = total > 0 ? done * 10 / total : 10;
    if (!tty && tenth == last_tenth) return;
    last_tenth = tenth;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double fps = s > 0 ? double(done) / s : 0;
    std::fprintf(stderr, "%svps infer: video %lld/%lld, frame %lld/%lld, %.2f frames/s, ETA %.0f s%s", tty ? "\r" : "",
                 (long long)(v + 1), (long long)nv, (long long)done, (long long)total, fps,
                 fps > 0 ? double(total - done) / fps : 0.0, tty ? "   " : "\n");
  };
  vps::infer::InferStats st = f.get("frames").empty()
                                  ? vps::infer::infer_dataset(*model, f.get("data"), out_dir, o)
                                  : vps::infer::infer_frames(*model, f.get("frames"), out_dir, o);
  if (tty) std::fprintf(stderr, "\n");
  std::printf("vps infer: %lld videos, %lld frames, %lld labelled frames written to %s\n", (long long)st.videos,
              (long long)st.frames, (long long)st.written, out_dir.c_str());
  if (vps::infer::merge_ranked_shards(plan, f.get("data"), split, f.get("out"), o.force))
    std::printf("vps infer: %d shards merged into %s\n", shard.count, f.get("out").c_str());
  return 0;
}

}  // namespace

VPS_COMMAND("infer", "run VPSNet-Track over a dataset's videos and write pan_pred/ + pred.json", run_infer);
