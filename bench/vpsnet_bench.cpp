// VPSNet-Track inference of one frame (bench/bench_vpsnet.sh compares it with the same computation
// built from PyTorch / torchvision ops, bench/vpsnet_torch.py):
//   vps_bench vpsnet_frame [--device cpu|cuda] [--precision f32|bf16] H W [reps]
//       configs/vpsnet_track_r50.json, random init, an HxW N(0,1) image; bf16: the products in bf16.
// Random weights would leave no detection above MaskROI's 0.6 (the dummy path): the bench lowers
// test_cfg.rcnn.score_thr to 0 so that the box, mask, track and panoptic stages see 100 detections,
// as torchvision's side with box_score_thresh 0. Prints the stages and the peak RSS (and on a GPU the
// peak of our allocator's bytes in use). Each clock reading waits for the GPU first (sync_device).
#include <sys/resource.h>

#include <chrono>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "infer/tracker.h"
#include "models/registry.h"
#include "models/detection/roi_extractor.h"
#include "models/vps/vpsnet_track.h"
#include "ops/ops.h"
#include "tensor/allocator.h"

namespace {

using namespace vps;

double now_ms() {
  vps::bench::sync_device();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void bench_frame(const std::vector<std::string>& args) {
  int64_t H = args.size() > 0 ? std::stoll(args[0]) : 1024, W = args.size() > 1 ? std::stoll(args[1]) : 2048;
  int reps = args.size() > 2 ? std::stoi(args[2]) : 2;
  nlohmann::json c = models::load_config("configs/vpsnet_track_r50.json");
  c["test_cfg"]["rcnn"]["score_thr"] = 0.0;
  auto m = std::dynamic_pointer_cast<models::VPSNetTrack>(models::build_model(c));
  m->eval();
  const Device dev = vps::bench::options().device;
  m->to(dev);
  m->set_matmul_precision(vps::bench::options().precision);
  autograd::NoGradGuard ng;
  Generator gen(3);
  models::Frame f;
  f.image = randn({1, 3, H, W}, gen, DType::f32, dev);
  f.img_h = H, f.img_w = W;
  infer::OnlineTracker tracker(*m->track_head);
  std::map<std::string, double> best;
  for (int r = 0; r < reps + 1; ++r) {  // the first run warms up
    std::map<std::string, double> t;
    // the stages on their own first, their tensors released before the whole frame runs (so that the
    // peak RSS is the frame's, not the bench's)
    double t0, t1, t2, t3;
    {
      t0 = now_ms();
      std::vector<Tensor> feats = m->extract_feats(f.image);
      t1 = now_ms();
      { models::MaskRCNNTestPass det = m->test_heads(feats, H, W, H, W); }  // the heads on those features
      t2 = now_ms();
      Tensor fcn = m->panopticFPN->forward(feats).fcn_output;
      t3 = now_ms();
    }
    models::VPSNetFrameOutputs fo = m->infer_frame(f);
    double t4 = now_ms();
    std::vector<int64_t> ids = tracker.step(fo.roi_feats, fo.det.boxes, fo.det.labels, fo.det.scores, r == 0);
    double t5 = now_ms();
    models::OutputMap out = m->compose(fo, ids, H, W);
    double t6 = now_ms();
    // the tracker's RoI features of the detections (inside infer_frame), timed on their own
    Tensor rois = models::rois_from_boxes(fo.det.boxes);
    double t7 = now_ms();
    models::extract_roi_features(fo.det.feats, rois, 7);
    double t8 = now_ms();
    t["backbone_fpn"] = t1 - t0;
    t["rpn_box_mask"] = t2 - t1;
    t["semantic_head"] = t3 - t2;
    t["track"] = (t8 - t7) + (t5 - t4);  // RoI features of the detections + the association
    t["panoptic"] = t6 - t5;
    t["frame"] = (t4 - t3) + (t6 - t4);
    t["detections"] = double(fo.det.boxes.size(0));
    for (auto& [k, v] : t)
      if (r > 0 && (!best.count(k) || v < best[k])) best[k] = v;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::string shape = std::to_string(H) + "x" + std::to_string(W);
  for (const char* k : {"backbone_fpn", "rpn_box_mask", "semantic_head", "track", "panoptic", "frame"})
    vps::bench::report(std::string("vpsnet_") + k, best[k], shape);
  vps::bench::report("vpsnet_detections", best["detections"], shape);
  vps::bench::report("vpsnet_peak_rss_mb", double(ru.ru_maxrss) / 1024.0, shape);
  // of which tensors held at once (the rest: the host cache's free blocks, the weights' file, the heap)
  vps::bench::report("vpsnet_peak_tensor_mb", double(host_allocator_stats().peak_allocated_bytes) / (1 << 20), shape);
  vps::bench::report_peak_gpu_memory("vpsnet", shape);
}

VPS_BENCH_DEVICE("vpsnet_frame", bench_frame);

}  // namespace
