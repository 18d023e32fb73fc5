// One training step of VPSNet-Track on a pair of frames and the loader that feeds it
// (bench/bench_train.sh compares the step with the same step built from PyTorch / torchvision ops,
// bench/train_torch.py):
//   vps_bench train_step [--device cpu|cuda] DATA [reps] [TRAIN_CONFIG]
//                                      TRAIN_CONFIG's model (random init) and optimizer (default
//                                      configs/train_vpsnet_r50.json; bench_train.sh also times
//                                      configs/train_demo.json, the demo's tiny model), pairs from the
//                                      dataset DATA (split train) at their
//                                      size, no crop; prints the step time (median), the time the step
//                                      waited for the background loader, the loader alone (samples/s),
//                                      the pair's GT count and the peak RSS. On --device cuda the
//                                      model lives on the GPU; each pair is copied there inside the
//                                      timed step (as training would) and the peak GPU memory is printed.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "bench/bench_registry.h"
#include "data/cityscapes_vps.h"
#include "data/train_pairs.h"
#include "models/registry.h"
#include "train/run_config.h"
#include "train/trainer.h"

namespace {

using namespace vps;

double now_ms() {
  vps::bench::sync_device();  // a clock reading after the GPU's queue is done
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The pair on `dev` as the Mask R-CNN parity test places it (tests/test_mask_rcnn_overfit.cpp): image,
// boxes, labels, semantic labels and flow on the device; instance masks and track ids stay on the host.
void frame_to(models::Frame& f, Device dev) {
  f.image = f.image.to(dev);
  if (f.gt.boxes.defined()) f.gt.boxes = f.gt.boxes.to(dev);
  if (f.gt.labels.defined()) f.gt.labels = f.gt.labels.to(dev);
  if (f.semantic.defined()) f.semantic = f.semantic.to(dev);
}
void batch_to(models::Batch& b, Device dev) {
  if (dev.is_cpu()) return;
  frame_to(b.frame, dev);
  if (b.reference) frame_to(*b.reference, dev);
  if (b.flow.defined()) b.flow = b.flow.to(dev);
  if (b.flow_valid.defined()) b.flow_valid = b.flow_valid.to(dev);
}

void bench_train_step(const std::vector<std::string>& args) {
  VPS_CHECK(!args.empty() && args.size() <= 3, "usage: vps_bench train_step DATA [reps] [TRAIN_CONFIG]");
  const int reps = args.size() > 1 ? std::stoi(args[1]) : 2;
  const std::string config = args.size() > 2 ? args[2] : "configs/train_vpsnet_r50.json";
  train::RunConfig rc = train::run_config(models::load_config(config), "configs",
                                          {"data.crop_size=[]", "data.scale_ratio_range=[]"});
  data::CityscapesVps ds(args[0], "train");
  data::PairSampler sampler(ds, rc.data);
  // the loader alone: what the background thread does per step
  std::vector<double> load;
  for (int i = 0; i < reps + 1; ++i) {
    double t0 = now_ms();
    models::Batch b = sampler.sample(i);
    load.push_back(now_ms() - t0);
  }
  const Device dev = vps::bench::options().device;
  auto model = models::build_model(rc.model);
  model->to(dev);
  model->train();
  train::TrainerOptions to = rc.trainer;
  to.max_iters = reps + 1;
  train::Trainer trainer(model, to);
  data::PrefetchingSampler prefetch(sampler);
  std::vector<double> step, wait;
  int64_t gt = 0;
  for (int64_t s = 0; s < reps + 1; ++s) {  // the first step warms up
    double t0 = now_ms();
    models::Batch b = prefetch.get(s);
    double t1 = now_ms();
    batch_to(b, dev);
    trainer.step(b);
    double t2 = now_ms();
    if (s > 0) wait.push_back(t1 - t0), step.push_back(t2 - t1);
    gt = b.frame.gt.boxes.size(0);
    if (s == 0) {
      std::string shape = std::to_string(b.frame.image.size(2)) + "x" + std::to_string(b.frame.image.size(3));
      vps::bench::report("train_gt_instances", double(gt), shape);
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  vps::bench::report("train_step", median(step), "pair");
  vps::bench::report("train_data_wait", median(wait), "pair");
  vps::bench::report("train_loader_sample", median(load), "pair");
  vps::bench::report("train_peak_rss_mb", double(ru.ru_maxrss) / 1024.0, "process");
  vps::bench::report_peak_gpu_memory("train", "process");
}

VPS_BENCH_DEVICE("train_step", bench_train_step);

}  // namespace
