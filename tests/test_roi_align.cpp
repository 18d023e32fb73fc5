// RoIAlign: hand-worked bins in the three geometries, torchvision fixtures (aligned true/false,
// forward and feature gradient), mmdetection v1 mode against torchvision on shifted boxes, float64
// gradcheck, non-contiguous features, map_roi_levels, CUDA parity, bad input.
#include <gtest/gtest.h>

#include "autograd/grad_mode.h"
#include "layers/roi_align.h"
#include "ops/ops.h"
#include "tensor/device.h"
#include "tests/gradcheck.h"
#include "tests/det_fixture.h"

using namespace vps;
using vps::testing::det_fixture;
using vps::testing::expect_error;

namespace {
// f(y, x) = x + 10 y on a (1,1,4,4) map: bilinear sampling reproduces it exactly inside the map.
Tensor ramp() {
  std::vector<double> v;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) v.push_back(x + 10.0 * y);
  return Tensor::from_vector(v, {1, 1, 4, 4});
}
RoIAlignOptions opts(RoIAlignOptions::Mode m, bool aligned, int64_t oh, int64_t ow, double scale) {
  RoIAlignOptions o;
  o.mode = m;
  o.aligned = aligned;
  o.out_h = oh;
  o.out_w = ow;
  o.spatial_scale = scale;
  o.sampling_ratio = 2;
  return o;
}
Tensor grad_of_features(const Tensor& feat, const Tensor& rois, const RoIAlignOptions& o, const Tensor& seed) {
  Tensor f = feat.clone().set_requires_grad(true);
  roi_align(f, rois, o).backward(seed);
  return f.grad();
}
}  // namespace

TEST(DetRoIAlign, HandWorkedGeometries) {
  Tensor roi = Tensor::from_vector<double>({0, 0, 0, 1, 1}, {1, 5});
  // mmdet v1: end = (1+1)*1 = 2, one 2x2 bin, samples at 0.5 and 1.5 -> mean (1, 1) -> 1 + 10 = 11.
  EXPECT_NEAR(roi_align(ramp(), roi, opts(RoIAlignOptions::kMMDetV1, false, 1, 1, 1)).item<double>(), 11.0, 1e-12);
  // torchvision aligned=False: size 1, samples at 0.25 and 0.75 -> mean 0.5 -> 5.5.
  EXPECT_NEAR(roi_align(ramp(), roi, opts(RoIAlignOptions::kTorchvision, false, 1, 1, 1)).item<double>(), 5.5, 1e-12);
  // aligned=True: start -0.5, size 1, samples -0.25 (clamped to 0) and 0.25 -> mean 0.125 -> 1.375.
  EXPECT_NEAR(roi_align(ramp(), roi, opts(RoIAlignOptions::kTorchvision, true, 1, 1, 1)).item<double>(), 1.375, 1e-12);
  // Out of range: every sample beyond W = 4 (x > W) contributes 0; samples in (W-1, W] read column W-1.
  Tensor far = Tensor::from_vector<double>({0, 10, 0, 12, 1}, {1, 5});
  EXPECT_EQ(roi_align(ramp(), far, opts(RoIAlignOptions::kMMDetV1, false, 1, 1, 1)).item<double>(), 0.0);
  Tensor edge = Tensor::from_vector<double>({0, 3, 0, 3, 1}, {1, 5});  // x samples 3.25, 3.75 -> column 3
  EXPECT_NEAR(roi_align(ramp(), edge, opts(RoIAlignOptions::kMMDetV1, false, 1, 1, 1)).item<double>(), 13.0, 1e-12);
  // Empty RoI list.
  EXPECT_EQ(roi_align(ramp(), Tensor::zeros({0, 5}, DType::f64), {}).shape(), (Shape{0, 1, 7, 7}));
}

TEST(DetRoIAlign, MatchesTorchvision) {
  Tensor feat = det_fixture("roi_feat"), rois = det_fixture("roi_rois"), seed = det_fixture("roi_grad_out");
  for (bool aligned : {true, false}) {
    std::string tag = aligned ? "aligned" : "unaligned";
    RoIAlignOptions o = opts(RoIAlignOptions::kTorchvision, aligned, 3, 4, 0.5);
    EXPECT_ALLCLOSE(roi_align(feat, rois, o), det_fixture("roi_out_" + tag), 1e-12, 1e-10);
    EXPECT_ALLCLOSE(grad_of_features(feat, rois, o, seed), det_fixture("roi_grad_" + tag), 1e-12, 1e-10);
  }
  // float32 features
  RoIAlignOptions o = opts(RoIAlignOptions::kTorchvision, true, 3, 4, 0.5);
  EXPECT_ALLCLOSE(roi_align(feat.to(DType::f32), rois.to(DType::f32), o), det_fixture("roi_out_aligned"), 1e-5, 1e-4);
}

TEST(DetRoIAlign, MMDetModeEqualsTorchvisionOnShiftedBoxes) {
  // mmdet v1: start = x1*s, end = (x2+1)*s, size = max(end-start, 0). torchvision aligned=False: start =
  // x1*s, end = x2'*s, size = max(end-start, 1). With x2' = x2+1 both ends agree; with RoIs at least one
  // feature cell wide the floors never apply; sample points and the bilinear rule are identical.
  // The fixture holds torchvision's output on the shifted boxes; we run mmdet mode on the originals.
  Tensor feat = det_fixture("roi_feat"), rois = det_fixture("roi_mm_rois"), seed = det_fixture("roi_grad_out");
  RoIAlignOptions o = opts(RoIAlignOptions::kMMDetV1, false, 3, 4, 0.5);
  EXPECT_ALLCLOSE(roi_align(feat, rois, o), det_fixture("roi_mm_out"), 1e-12, 1e-10);
  EXPECT_ALLCLOSE(grad_of_features(feat, rois, o, seed), det_fixture("roi_mm_grad"), 1e-12, 1e-10);
}

TEST(DetRoIAlign, Gradcheck) {
  // RoIAlign is linear in the features, so there are no kinks w.r.t. them; rois are not differentiated.
  Tensor feat = vps::testing::rnd({2, 2, 6, 7}, 5);
  Tensor rois = Tensor::from_vector<double>({0, 1.3, 0.7, 9.1, 8.2, 1, -2.2, 3.1, 6.4, 13.5, 1, 4.0, 4.0, 4.6, 5.1},
                                            {3, 5});
  vps::testing::GradcheckOptions g;
  g.wrt = {true, false};
  for (auto m : {RoIAlignOptions::kMMDetV1, RoIAlignOptions::kTorchvision}) {
    RoIAlignOptions o = opts(m, m == RoIAlignOptions::kTorchvision, 2, 3, 0.5);
    vps::testing::gradcheck([o](const std::vector<Tensor>& x) { return roi_align(x[0], x[1], o); }, {feat, rois}, g);
  }
  RoIAlignOptions adaptive = opts(RoIAlignOptions::kTorchvision, false, 2, 2, 0.5);
  adaptive.sampling_ratio = 0;
  vps::testing::gradcheck([adaptive](const std::vector<Tensor>& x) { return roi_align(x[0], x[1], adaptive); },
                          {feat, rois}, g);
}

TEST(DetRoIAlign, NonContiguousFeatures) {
  Tensor nhwc = vps::testing::rnd({2, 6, 7, 3}, 8);
  Tensor feat = nhwc.permute({0, 3, 1, 2});
  ASSERT_FALSE(feat.is_contiguous());
  Tensor rois = Tensor::from_vector<double>({1, 0.5, 1.0, 10.0, 9.0, 0, 2.0, 2.0, 5.0, 4.0}, {2, 5});
  RoIAlignOptions o = opts(RoIAlignOptions::kMMDetV1, false, 2, 2, 0.5);
  EXPECT_ALLCLOSE(roi_align(feat, rois, o), roi_align(feat.contiguous(), rois, o), 0, 0);
}

TEST(DetRoIAlign, ChannelGroupsMatchSingleChannels) {
  // 11 channels: on CPU one kernel call covers 8 channels, so this runs a full and a partial group;
  // each single-channel slice runs a group of one.
  Tensor feat = vps::testing::rnd({2, 11, 6, 7}, 12);
  Tensor rois = Tensor::from_vector<double>({1, 0.5, 1.0, 10.0, 9.0, 0, 2.0, 2.0, 5.0, 4.0}, {2, 5});
  RoIAlignOptions o = opts(RoIAlignOptions::kMMDetV1, false, 3, 2, 0.5);
  Tensor all = roi_align(feat, rois, o);
  for (int64_t ch = 0; ch < 11; ++ch)
    EXPECT_ALLCLOSE(all.slice(1, ch, ch + 1), roi_align(feat.slice(1, ch, ch + 1), rois, o), 0, 0);
  // The backward in channel blocks (8 + 3 on CPU) gives each plane the bits of a single-channel call.
  Tensor fa = feat.clone().set_requires_grad(true);
  Tensor go = vps::testing::rnd(all.shape(), 13);
  sum(mul(roi_align(fa, rois, o), go)).backward();
  for (int64_t ch = 0; ch < 11; ++ch) {
    Tensor f1 = feat.slice(1, ch, ch + 1).contiguous().set_requires_grad(true);
    sum(mul(roi_align(f1, rois, o), go.slice(1, ch, ch + 1).contiguous())).backward();
    EXPECT_ALLCLOSE(fa.grad().slice(1, ch, ch + 1), f1.grad(), 0, 0);
  }
}

TEST(DetRoIAlign, MapRoiLevels) {
  // sqrt(w*h) with +1 widths: 56 -> 0, 112 -> 1, 224 -> 2, 448 -> 3, 1000 -> 3 (clamp), 10 -> 0, 111 -> 0.
  std::vector<double> sides = {56, 112, 224, 448, 1000, 10, 111};
  std::vector<double> v;
  for (double s : sides)
    for (double c : {0.0, 5.0, 5.0, 5.0 + s - 1, 5.0 + s - 1}) v.push_back(c);
  Tensor rois = Tensor::from_vector(v, {int64_t(sides.size()), 5});
  std::vector<int64_t> want = {0, 1, 2, 3, 3, 0, 0};
  EXPECT_EQ(map_roi_levels(rois).to_vector<int64_t>(), want);
  EXPECT_EQ(map_roi_levels(rois.slice(1, 1, 5).to(DType::f32)).to_vector<int64_t>(), want);
}

TEST(DetRoIAlign, BadInput) {

  Tensor feat = Tensor::zeros({1, 2, 4, 4}, DType::f64);
  expect_error([&] { roi_align(feat, Tensor::zeros({3, 4}, DType::f64)); }, "roi_align", "[3, 4]");
  Tensor f3 = Tensor::zeros({2, 4, 4}, DType::f64), r5 = Tensor::zeros({3, 5}, DType::f64);
  expect_error([&] { roi_align(f3, r5); }, "roi_align", "[2, 4, 4]");
  expect_error([&] { roi_align(feat, Tensor::zeros({3, 5}, DType::f32)); }, "roi_align", "float32");
  expect_error([&] { roi_align(feat, Tensor::zeros({3, 5}, DType::i64)); }, "roi_align", "int64");
  Tensor bad_batch = Tensor::from_vector<double>({1, 0, 0, 1, 1}, {1, 5});
  expect_error([&] { roi_align(feat, bad_batch); }, "roi_align", "batch index");
  Tensor r = Tensor::zeros({1, 5}, DType::f64).set_requires_grad(true);
  expect_error([&] { roi_align(feat, r); }, "roi_align", "rois");
}

TEST(DetRoIAlign, CudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor feat = det_fixture("roi_feat"), rois = det_fixture("roi_rois");
  for (auto m : {RoIAlignOptions::kMMDetV1, RoIAlignOptions::kTorchvision}) {
    RoIAlignOptions o = opts(m, false, 3, 4, 0.5);
    vps::testing::ParityOptions p;
    vps::testing::check_parity([o](const std::vector<Tensor>& x) { return roi_align(x[0], x[1].detach(), o); },
                               {feat, rois}, p);
  }
  Tensor lv_gpu = map_roi_levels(rois.to(cuda_device(0))).cpu();
  EXPECT_EQ(lv_gpu.to_vector<int64_t>(), map_roi_levels(rois).to_vector<int64_t>());
}
