// Test-time box selection: VPSNet's MaskROI and mmdet's multiclass_nms against the spec's reference
// (tests/fixtures/heads/make_heads.py), crafted cases (agnostic vs class-aware NMS, ties at max_det, the
// empty case), CUDA parity (skips without GPU), bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "models/detection/mask_roi.h"
#include "tensor/device.h"
#include "tests/det_fixture.h"
#include "tests/gradcheck.h"
#include "tests/heads_fixture.h"

using namespace vps;
using namespace vps::models;
using vps::testing::expect_error;
using vps::testing::heads_fixture;

namespace {

void expect_detections(const Detections& d, const std::string& prefix) {
  Tensor b = heads_fixture(prefix + "_boxes"), s = heads_fixture(prefix + "_scores");
  ASSERT_EQ(d.size(), s.size(0)) << prefix;
  EXPECT_ALLCLOSE(d.boxes, b, 1e-9, 1e-9);
  EXPECT_ALLCLOSE(d.scores, s, 0, 0);
  EXPECT_ALLCLOSE(d.labels.to(DType::f64), heads_fixture(prefix + "_labels"), 0, 0);
}

// n disjoint 10x10 RoIs in a row, 2 classes (bg, thing), zero deltas, thing probability p[i].
struct Crafted {
  Tensor rois, prob, pred;
};
Crafted crafted(const std::vector<double>& p) {
  int64_t n = int64_t(p.size());
  std::vector<double> r, q;
  for (int64_t i = 0; i < n; ++i) {
    r.insert(r.end(), {0, double(20 * i), 0, double(20 * i + 9), 9});
    q.insert(q.end(), {1 - p[size_t(i)], p[size_t(i)]});
  }
  return {Tensor::from_vector<double>(r, {n, 5}), Tensor::from_vector<double>(q, {n, 2}), Tensor::zeros({n, 8}, DType::f64)};
}

}  // namespace

TEST(DetMaskROI, MatchesSpecReference) {
  Tensor rois = heads_fixture("sel_rois"), prob = heads_fixture("sel_prob"), pred = heads_fixture("sel_pred");
  MaskROIOptions o;
  o.score_thr = 0.3;
  expect_detections(mask_roi_select(rois, prob, pred, 80, 120, o), "maskroi_a");
  o.max_det = 6;
  expect_detections(mask_roi_select(rois, prob, pred, 80, 120, o), "maskroi_b");
  expect_detections(multiclass_nms_select(rois, prob, pred, 80, 120, 0.05, 0.5, 10), "mcnms");
  // float32 inputs give float32 outputs on the same boxes.
  Detections f = mask_roi_select(rois.to(DType::f32), prob.to(DType::f32), pred.to(DType::f32), 80, 120, o);
  EXPECT_EQ(f.boxes.dtype(), DType::f32);
  EXPECT_EQ(f.labels.dtype(), DType::i64);
  EXPECT_ALLCLOSE(f.boxes, heads_fixture("maskroi_b_boxes"), 1e-3, 1e-5);
}

TEST(DetMaskROI, CraftedSelection) {
  // One RoI, 3 classes, both things above 0.6 impossible (softmax): use raw probabilities instead.
  Tensor rois = Tensor::from_vector<double>({0, 10, 10, 29, 19}, {1, 5});
  Tensor prob = Tensor::from_vector<double>({0.05, 0.9, 0.7}, {1, 3});
  // Class 1: dx = 10 / 10 = 1 width -> shifted by 20; class 2: zero delta (the RoI itself).
  Tensor pred = Tensor::from_vector<double>({0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0}, {1, 12});
  Detections d = mask_roi_select(rois, prob, pred, 100, 100);
  ASSERT_EQ(d.size(), 2);  // disjoint boxes: both kept, descending score
  EXPECT_EQ(d.labels.to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(d.boxes.to_vector<double>(), (std::vector<double>{30, 10, 49, 19, 10, 10, 29, 19}));
  // Same box for both classes: class-agnostic NMS keeps one, class-aware keeps both.
  Tensor same = Tensor::zeros({1, 12}, DType::f64);
  EXPECT_EQ(mask_roi_select(rois, prob, same, 100, 100).size(), 1);
  MaskROIOptions aware;
  aware.class_agnostic_nms = false;
  EXPECT_EQ(mask_roi_select(rois, prob, same, 100, 100, aware).size(), 2);
  // Clip to [0, W-1] x [0, H-1] and the upper-only dw clamp: a huge dw saturates at log(1000/16).
  Tensor wide = Tensor::from_vector<double>({0, 0, 0, 0, 0, 0, 50, 0, 0, 0, -50, 0}, {1, 12});
  Detections w = mask_roi_select(rois, prob, wide, 100, 40);
  std::vector<double> b = w.boxes.to_vector<double>();
  ASSERT_EQ(w.size(), 2);
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[2], 39);
  double tiny = 20 * std::exp(-10.0);  // dw = -50/5 not clamped from below: width 20 e^-10
  EXPECT_NEAR(b[6] - b[4] + 1, tiny, 1e-9);
}

TEST(DetMaskROI, TiesAtMaxDetKeepMore) {
  std::vector<double> p;
  for (int i = 0; i < 105; ++i) p.push_back(0.99 - 0.001 * i);
  p[99] = p[100] = p[101] = 0.8;  // the 100th largest score is tied three ways
  p[102] = p[103] = p[104] = 0.7;
  Crafted c = crafted(p);
  Detections d = mask_roi_select(c.rois, c.prob, c.pred, 100, 3000);
  EXPECT_EQ(d.size(), 102);
  std::vector<double> s = d.scores.to_vector<double>();
  for (size_t i = 1; i < s.size(); ++i) EXPECT_GE(s[i - 1], s[i]);
  MaskROIOptions o;
  o.max_det = 10;
  EXPECT_EQ(mask_roi_select(c.rois, c.prob, c.pred, 100, 3000, o).size(), 10);
  // multiclass_nms truncates to exactly max_det.
  EXPECT_EQ(multiclass_nms_select(c.rois, c.prob, c.pred, 100, 3000, 0.05, 0.5, 100).size(), 100);
}

TEST(DetMaskROI, EmptyCases) {
  Crafted c = crafted({0.5, 0.6, 0.2});  // nothing strictly above 0.6
  for (const Detections& d : {mask_roi_select(c.rois, c.prob, c.pred, 100, 100),
                              mask_roi_select(Tensor::zeros({0, 5}, DType::f64), Tensor::zeros({0, 9}, DType::f64),
                                              Tensor::zeros({0, 36}, DType::f64), 100, 100),
                              multiclass_nms_select(c.rois, c.prob, c.pred, 100, 100, 0.9, 0.5, 100)}) {
    EXPECT_EQ(d.size(), 0);
    EXPECT_EQ(d.boxes.shape(), (Shape{0, 4}));
    EXPECT_EQ(d.scores.shape(), (Shape{0}));
    EXPECT_EQ(d.labels.shape(), (Shape{0}));
    EXPECT_EQ(d.labels.dtype(), DType::i64);
  }
}

TEST(DetMaskROI, ThresholdInTheScoresDtype) {
  // float(0.6) = 0.6000000238: above 0.6 in float64, equal to the threshold in float32 (as torch compares).
  Crafted c = crafted({double(0.6f)});
  EXPECT_EQ(mask_roi_select(c.rois, c.prob, c.pred, 100, 100).size(), 1);
  EXPECT_EQ(mask_roi_select(c.rois, c.prob.to(DType::f32), c.pred, 100, 100).size(), 0);
  EXPECT_EQ(multiclass_nms_select(c.rois, c.prob.to(DType::f32), c.pred, 100, 100, 0.6, 0.5, 100).size(), 0);
}

TEST(DetMaskROI, CudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor rois = heads_fixture("sel_rois"), prob = heads_fixture("sel_prob"), pred = heads_fixture("sel_pred");
  MaskROIOptions o;
  o.score_thr = 0.3;
  Detections a = mask_roi_select(rois, prob, pred, 80, 120, o);
  Detections b = mask_roi_select(rois.to(cuda_device(0)), prob.to(cuda_device(0)), pred.to(cuda_device(0)), 80, 120, o);
  EXPECT_EQ(b.boxes.device(), cuda_device(0));
  EXPECT_ALLCLOSE(a.boxes, b.boxes, 1e-9, 1e-9);
  EXPECT_EQ(a.labels.to_vector<int64_t>(), b.labels.cpu().to_vector<int64_t>());
}

TEST(DetMaskROI, BadInput) {
  Tensor rois = heads_fixture("sel_rois"), prob = heads_fixture("sel_prob"), pred = heads_fixture("sel_pred");
  expect_error([&] { mask_roi_select(rois.slice(1, 1, 5), prob, pred, 80, 120); }, "mask_roi_select", "[30, 4]");
  expect_error([&] { mask_roi_select(rois, prob, pred.slice(1, 0, 12), 80, 120); }, "mask_roi_select", "[30, 12]");
  expect_error([&] { mask_roi_select(rois, prob.slice(0, 0, 4), pred, 80, 120); }, "mask_roi_select", "[4, 4]");
  expect_error([&] { multiclass_nms_select(rois, prob, pred, 0, 120); }, "multiclass_nms_select", "image size");
  MaskROIOptions o;
  o.reg_weights = {10, 10, 5};
  expect_error([&] { mask_roi_select(rois, prob, pred, 80, 120, o); }, "mask_roi_select", "reg_weights");
}
