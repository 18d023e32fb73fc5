// Detection op timings (bench/bench_det.sh compares them with torchvision on the same data):
//   vps_bench det_nms [--device cpu|cuda] N        NMS on N RPN-like boxes (torchvision convention), IoU 0.7
//   vps_bench det_roi_align [--device cpu|cuda] K [H W]
//                       RoIAlign forward and backward, K RoIs, 256 channels, 7x7, on (1,256,H,W)
//                       (default 256x512, the P2 map of a 1024x2048 frame; bench-smoke: a small one)
// Inputs come from a 32-bit LCG that bench/det_torch.py reproduces exactly, so both sides see the same boxes.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "layers/nms.h"
#include "layers/roi_align.h"
#include "tensor/tensor.h"

namespace {

using namespace vps;

struct Lcg {
  uint32_t s;
  double next() {  // U[0,1) with 24 bits
    s = s * 1664525u + 1013904223u;
    return double(s >> 8) / double(1u << 24);
  }
};

// n boxes in a 1024x2048 image with sides 16..316; scores in [0,1). Layout (n,4) / (n,) float32.
void make_boxes(int64_t n, uint32_t seed, std::vector<float>& boxes, std::vector<float>& scores, double scale) {
  Lcg g{seed};
  boxes.clear();
  scores.clear();
  for (int64_t i = 0; i < n; ++i) {
    double x = g.next() * 1900 * scale, y = g.next() * 900 * scale;
    double w = (16 + g.next() * 300) * scale, h = (16 + g.next() * 300) * scale;
    boxes.insert(boxes.end(), {float(x), float(y), float(x + w), float(y + h)});
    scores.push_back(float(g.next()));
  }
}

void bench_nms(const std::vector<std::string>& args) {
  int64_t n = args.empty() ? 2000 : std::stoll(args[0]);
  std::vector<float> b, s;
  make_boxes(n, 1234, b, s, 1.0);
  const Device dev = bench::options().device;
  Tensor boxes = Tensor::from_vector(b, {n, 4}).to(dev), scores = Tensor::from_vector(s, {n}).to(dev);
  int64_t kept = 0;
  double ms = bench::time_ms([&] { kept = nms(boxes, scores, 0.7).numel(); }, 7, 2);
  bench::report("nms", ms, "n=" + std::to_string(n) + " kept=" + std::to_string(kept));
}

void bench_roi_align(const std::vector<std::string>& args) {
  int64_t k = args.empty() ? 1000 : std::stoll(args[0]);
  int64_t c = 256, h = args.size() > 2 ? std::stoll(args[1]) : 256, w = args.size() > 2 ? std::stoll(args[2]) : 512;
  const Device dev = bench::options().device;
  Tensor feat = Tensor::empty({1, c, h, w});
  {
    Lcg g{99};
    float* p = feat.data<float>();
    for (int64_t i = 0; i < feat.numel(); ++i) p[i] = float(g.next() - 0.5);
  }
  feat = feat.to(dev);
  std::vector<float> b, s, r;
  make_boxes(k, 4321, b, s, 1.0);
  for (int64_t i = 0; i < k; ++i) r.insert(r.end(), {0.f, b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]});
  Tensor rois = Tensor::from_vector(r, {k, 5}).to(dev);
  RoIAlignOptions o;
  o.spatial_scale = 0.25;
  o.sampling_ratio = 2;
  o.mode = RoIAlignOptions::kTorchvision;
  std::string shape = "K=" + std::to_string(k) + ",C=256,7x7,feat=" + std::to_string(h) + "x" + std::to_string(w);
  {
    autograd::NoGradGuard ng;
    double ms = bench::time_ms([&] { roi_align(feat, rois, o); }, 5, 1);
    bench::report("roi_align_fwd", ms, shape);
    o.mode = RoIAlignOptions::kMMDetV1;
    ms = bench::time_ms([&] { roi_align(feat, rois, o); }, 5, 1);
    bench::report("roi_align_fwd_mmdet", ms, shape);
  }
  o.mode = RoIAlignOptions::kTorchvision;
  Tensor f = feat.clone().set_requires_grad(true);
  Tensor seed = Tensor::ones({k, c, 7, 7}, DType::f32, dev);
  double ms = bench::time_ms(
      [&] {
        f.zero_grad();
        roi_align(f, rois, o).backward(seed);
      },
      5, 1);
  bench::report("roi_align_fwd_bwd", ms, shape);
}

VPS_BENCH_DEVICE("det_nms", bench_nms);
VPS_BENCH_DEVICE("det_roi_align", bench_roi_align);

}  // namespace
