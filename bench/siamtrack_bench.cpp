// The added cost of SiamTrack's terms per training step (bench/bench_siamtrack.sh):
//   vps_bench siamtrack_step DATA [config] [reps]
// One pair of DATA's train split (a `vps synth` dataset) with a random flow of a few pixels, forward_train
// + backward of three variants of the same model config (default configs/siamtrack_r50.json), built from
// one seed: "base" (SiamTrack-Base: VPSNet-Track's losses on both frames, no L_tc), "pixel" (+ L_warp +
// L_tube, no projection head) and "full" (+ the projection head and both contrastive terms). The
// variants run interleaved, rep after rep, so that the machine's load drifts over all three alike;
// the median step of each is printed.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "bench/bench_registry.h"
#include "data/cityscapes_vps.h"
#include "data/train_pairs.h"
#include "models/registry.h"
#include "models/vps/vpsnet_track.h"
#include "ops/ops.h"

namespace {

using namespace vps;

void bench_step(const std::vector<std::string>& args) {
  const std::string data = args.at(0), config = args.size() > 1 ? args[1] : "configs/siamtrack_r50.json";
  const int reps = args.size() > 2 ? std::stoi(args[2]) : 3;
  data::CityscapesVps ds(data, "train");
  data::PairSampler sampler(ds, data::PairOptions{});
  models::Batch b = sampler.sample(0);
  Generator fg(5);
  const int64_t H = b.frame.image.size(2), W = b.frame.image.size(3);
  b.flow = mul(sub(rand({1, 2, H, W}, fg, DType::f32), 0.5), 6.0);
  b.flow_valid = Tensor::ones({1, 1, H, W});
  const char* names[] = {"base", "pixel", "full"};
  std::vector<std::shared_ptr<models::Model>> models;
  for (int v = 0; v < 3; ++v) {
    nlohmann::json c = models::load_config(config);
    nlohmann::json& s = c["siamtrack"];
    s["contra_sem"] = s["contra_inst"] = v == 2;
    s["warp"] = s["tube"] = v >= 1;
    models.push_back(models::build_model(c));
  }
  std::vector<std::vector<double>> t(3);
  for (int r = 0; r < reps + 1; ++r)  // the first round warms up
    for (int v = 0; v < 3; ++v) {
      auto a = std::chrono::steady_clock::now();
      Generator gen(0);
      models::Model::total_loss(models[size_t(v)]->forward_train(b, gen)).backward();
      models[size_t(v)]->zero_grad();
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
      if (r > 0) t[size_t(v)].push_back(ms);
    }
  const std::string shape = std::to_string(H) + "x" + std::to_string(W);
  for (int v = 0; v < 3; ++v) {
    std::sort(t[size_t(v)].begin(), t[size_t(v)].end());
    vps::bench::report(std::string("siamtrack_step_") + names[v], t[size_t(v)][t[size_t(v)].size() / 2], shape);
  }
}

VPS_BENCH("siamtrack_step", bench_step);

}  // namespace
