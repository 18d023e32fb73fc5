// Detection-head pipeline at 1024x2048 (bench/bench_heads.sh compares it with torch/torchvision):
//   vps_bench heads_pipeline [H W [REPS]]   inference (no grad), full-width heads, random FPN features of
//                                           an HxW frame (default 1024x2048, median of 3 after a warm-up;
//                                           bench-smoke: a small frame, REPS 1 without warm-up: the RoI
//                                           stages keep 1000 proposals at any size)
// Stages: RPN head on P2..P6 ((1,256,256,512) ... (1,256,16,32)), proposals (test config: 1000 per level,
// NMS 0.7, 1000 kept), 7x7 RoI extraction of the 1000 proposals + SharedFCBBoxHead, MaskROI selection,
// 14x14 RoI extraction of the first 100 proposals + FCNMaskHead. Weights N(0, 0.01), features N(0, 1).
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "models/detection/bbox_head.h"
#include "models/detection/mask_head.h"
#include "models/detection/mask_roi.h"
#include "models/detection/roi_extractor.h"
#include "models/detection/rpn_head.h"
#include "ops/ops.h"

namespace {

using namespace vps;
using namespace vps::models;

void bench_heads(const std::vector<std::string>& args) {
  const int64_t H = args.size() > 1 ? std::stoll(args[0]) : 1024, W = args.size() > 1 ? std::stoll(args[1]) : 2048;
  autograd::NoGradGuard ng;
  Generator gen(7);
  std::vector<Tensor> feats;
  for (int64_t s : {4, 8, 16, 32, 64}) feats.push_back(randn({1, 256, H / s, W / s}, gen));
  RPNHead rpn(RPNHeadOptions{}, gen);
  BBoxHead bbox(BBoxHeadOptions{}, gen);
  MaskHead mask(MaskHeadOptions{}, gen);
  std::vector<Tensor> p25(feats.begin(), feats.begin() + 4);
  std::pair<std::vector<Tensor>, std::vector<Tensor>> out;
  Tensor props, rois, roi7, roi14, cls, reg;
  Detections det;
  const int reps = args.size() > 2 ? std::stoi(args[2]) : 3, warm = reps > 1 ? 1 : 0;
  double t_rpn = bench::time_ms([&] { out = rpn.forward(feats); }, reps, warm);
  double t_prop = bench::time_ms(
      [&] { props = rpn.get_proposals(out.first, out.second, 0, H, W, ProposalOptions::test()); }, reps, warm);
  rois = cat({Tensor::zeros({props.size(0), 1}), props.slice(1, 0, 4)}, 1);
  double t_roi7 = bench::time_ms([&] { roi7 = extract_roi_features(p25, rois, 7); }, reps, warm);
  double t_bbox = bench::time_ms(
      [&] {
        auto r = bbox.forward(roi7);
        cls = r.first;
        reg = r.second;
      },
      reps, warm);
  double t_sel = bench::time_ms(
      [&] {
        MaskROIOptions o;
        o.score_thr = 0.05;  // random weights: softmax over 9 classes sits near 1/9
        det = mask_roi_select(rois, softmax(cls, 1), reg, H, W, o);
      },
      reps, warm);
  Tensor mrois = rois.slice(0, 0, std::min<int64_t>(100, rois.size(0)));
  double t_roi14 = bench::time_ms([&] { roi14 = extract_roi_features(p25, mrois, 14); }, reps, warm);
  double t_mask = bench::time_ms([&] { mask.forward(roi14); }, reps, warm);
  std::string k = "K=" + std::to_string(rois.size(0));
  bench::report("rpn_head", t_rpn, "P2-P6,C=256");
  bench::report("proposals", t_prop, "1000/lvl,nms0.7");
  bench::report("roi_extract_7x7", t_roi7, k);
  bench::report("bbox_head", t_bbox, k + ",fc1024");
  bench::report("mask_roi_select", t_sel, k + ",nc=9");
  const std::string km = "K=" + std::to_string(mrois.size(0));
  bench::report("roi_extract_14x14", t_roi14, km);
  bench::report("mask_head", t_mask, km + ",28x28");
  bench::report("total", t_rpn + t_prop + t_roi7 + t_bbox + t_sel + t_roi14 + t_mask,
                std::to_string(H) + "x" + std::to_string(W));
}

// Proposals stage alone (for profiling): RPN head once, then `reps` (args[0], default 20) get_proposals calls.
void bench_proposals(const std::vector<std::string>& args) {
  autograd::NoGradGuard ng;
  Generator gen(7);
  std::vector<Tensor> feats;
  for (int64_t s : {4, 8, 16, 32, 64}) feats.push_back(randn({1, 256, 1024 / s, 2048 / s}, gen));
  RPNHead rpn(RPNHeadOptions{}, gen);
  auto out = rpn.forward(feats);
  int reps = args.empty() ? 20 : std::stoi(args[0]);
  Tensor props;
  double t = bench::time_ms(
      [&] { props = rpn.get_proposals(out.first, out.second, 0, 1024, 2048, ProposalOptions::test()); }, reps, 1);
  bench::report("proposals", t, "1000/lvl,nms0.7");
  Tensor c = props.contiguous();  // checksum of the exact bits, to compare implementations
  uint64_t h = 1469598103934665603ull;
  const auto* b = reinterpret_cast<const unsigned char*>(c.data<float>());
  for (int64_t i = 0; i < c.numel() * int64_t(sizeof(float)); ++i) h = (h ^ b[i]) * 1099511628211ull;
  std::fprintf(stderr, "proposals %s checksum %016llx\n", shape_str(c.shape()).c_str(), (unsigned long long)h);
}

VPS_BENCH("heads_pipeline", bench_heads);
VPS_BENCH("heads_proposals", bench_proposals);

}  // namespace
