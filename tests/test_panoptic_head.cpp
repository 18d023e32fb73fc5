// The panoptic head (models/vps/panoptic_head.h) against a re-implementation of VPSNet's code
// (tests/fixtures/panoptic/make_panoptic_head.py: the training logits, target, loss_pano and gradients;
// MaskRemoval with cv2.resize, the panoptic logits and their argmax), hand-built cases for the quirks
// (round-half-even box ends, Python slices, per-class coverage, the dummy keep), a float64 gradcheck.
#include <gtest/gtest.h>

#include <string>

#include "models/vps/panoptic_head.h"
#include "ops/ops.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using models::PanopticHead;

namespace {
Tensor pan(const std::string& name) { return vps::testing::fixture("panoptic", name); }
std::vector<int64_t> as_i64(const Tensor& t) { return t.to(DType::i64).to_vector<int64_t>(); }
}  // namespace

TEST(PanopticHead, TrainingPathMatchesReimplementation) {
  PanopticHead head;
  Tensor score = pan("train_score").set_requires_grad(), masks = pan("train_masks").set_requires_grad();
  Tensor logits = head.train_logits(score, pan("train_boxes").to(DType::f32), pan("train_labels").to(DType::i64), masks);
  EXPECT_ALLCLOSE(logits, pan("train_logits"), 1e-12, 1e-12);
  Tensor target = head.mask_matching(pan("train_seg").to(DType::i64), pan("train_gt_masks").to(DType::u8));
  EXPECT_EQ(as_i64(target), as_i64(pan("train_target")));
  Tensor loss = head.loss(logits, target);
  EXPECT_NEAR(loss.item_double(), pan("train_loss").item_double(), 1e-12);
  loss.backward();
  EXPECT_ALLCLOSE(score.grad(), pan("train_grad_score"), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(masks.grad(), pan("train_grad_masks"), 1e-12, 1e-12);
}

TEST(PanopticHead, TestPathMatchesReimplementation) {
  PanopticHead head;
  Tensor fcn = pan("test_fcn").to(DType::f32), rois = pan("test_rois").to(DType::f32);
  Tensor labels = pan("test_cls_idx").to(DType::i64);
  models::MaskRemovalOutput r =
      head.mask_removal(rois, pan("test_cls_prob").to(DType::f32), pan("test_mask_logits").to(DType::f32), labels, 48, 64);
  EXPECT_EQ(r.keep, as_i64(pan("test_keep")));  // {0, 3, 2}: the tie at 0.8 puts index 3 first; 1 is covered
  EXPECT_ALLCLOSE(r.energy, pan("test_energy"), 1e-5, 1e-5);  // our bilinear against cv2.resize's
  Tensor idx = Tensor::from_vector<int64_t>(r.keep, {int64_t(r.keep.size())});
  Tensor logits = head.test_logits(fcn, index_select(rois, 0, idx), index_select(labels, 0, idx), r);
  EXPECT_ALLCLOSE(logits, pan("test_logits"), 1e-5, 1e-5);
  Tensor p = PanopticHead::argmax_of_softmax(logits, 45, 60);
  std::vector<int64_t> got = as_i64(p), want = as_i64(pan("test_panoptic"));
  ASSERT_EQ(got.size(), want.size());
  int64_t differ = 0;
  for (size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
  EXPECT_EQ(differ, 0);
}

// Box ends: int(y1) .. round(y2) inclusive with round half to even, Python slices for negative starts.
TEST(PanopticHead, SegTermBoxEnds) {
  PanopticHead head;
  Tensor score = add(Tensor::zeros({1, 19, 6, 8}, DType::f64), 1.0);
  // x: int(1.9) = 1 .. round(4.5) = 4 (half to even); y: int(0.2) = 0 .. round(2.5) = 2
  auto st = head.seg_term(score, Tensor::from_vector<double>({1.9, 0.2, 4.5, 2.5}, {1, 4}), Tensor::from_vector<int64_t>({3}, {1}));
  std::vector<double> v = st.inst.to_vector<double>();
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 8; ++x)
      EXPECT_EQ(v[size_t(y * 8 + x)], (y <= 2 && x >= 1 && x <= 4) ? 1.0 : 0.0) << y << "," << x;
  // round(3.5) = 4: half to even goes up here; a negative start (-2.5 -> int -2) counts from the end as
  // Python's slice does (rows 4..4 of 6), a label 0 gives an empty channel
  st = head.seg_term(score, Tensor::from_vector<double>({0, -2.5, 3.5, 4.0, 0, 0, 7, 5}, {2, 4}),
                     Tensor::from_vector<int64_t>({1, 0}, {2}));
  v = st.inst.to_vector<double>();
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 8; ++x) {
      EXPECT_EQ(v[size_t(y * 8 + x)], (y == 4 && x <= 4) ? 1.0 : 0.0) << y << "," << x;
      EXPECT_EQ(v[size_t(48 + y * 8 + x)], 0.0);
    }
  EXPECT_EQ(st.stuff.shape(), (Shape{1, 11, 6, 8}));
}

// MaskRemoval on hand-built masks: per-class coverage, the 0.3 fraction, the dummy and "nothing kept".
TEST(PanopticHead, MaskRemovalCases) {
  PanopticHead head;
  Tensor pos = add(Tensor::zeros({3, 28, 28}), 1.0);  // masks positive everywhere: the whole box
  Tensor rois = Tensor::from_vector<float>({0, 0, 9, 9, 0, 0, 9, 9, 7, 0, 16, 9}, {3, 4});
  // 0 (best) kept; 1 (same class, same box, 100% covered) removed; 2 (same class, 30% covered) kept:
  // the test is "> 0.3", not ">="
  auto r = head.mask_removal(rois, Tensor::from_vector<float>({0.9f, 0.8f, 0.7f}, {3}), pos,
                             Tensor::from_vector<int64_t>({1, 1, 1}, {3}), 12, 20);
  EXPECT_EQ(r.keep, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(r.energy.shape(), (Shape{1, 2, 12, 20}));
  // another class at the same place is not covered
  r = head.mask_removal(rois, Tensor::from_vector<float>({0.9f, 0.8f, 0.7f}, {3}), pos,
                        Tensor::from_vector<int64_t>({1, 2, 1}, {3}), 12, 20);
  EXPECT_EQ(r.keep, (std::vector<int64_t>{0, 1, 2}));
  // all masks negative: nothing kept -> keep {0} and one zero channel; the dummy detection alike
  Tensor neg = mul(pos, -1.0);
  r = head.mask_removal(rois, Tensor::from_vector<float>({0.9f, 0.8f, 0.7f}, {3}), neg,
                        Tensor::from_vector<int64_t>({1, 1, 1}, {3}), 12, 20);
  EXPECT_EQ(r.keep, (std::vector<int64_t>{0}));
  EXPECT_EQ(r.energy.shape(), (Shape{1, 1, 12, 20}));
  EXPECT_EQ(max(r.energy).item_double(), 0.0);
  r = head.mask_removal(rois.slice(0, 0, 1), Tensor::from_vector<float>({0.1f}, {1}), pos.slice(0, 0, 1),
                        Tensor::from_vector<int64_t>({0}, {1}), 12, 20);
  EXPECT_EQ(r.keep, (std::vector<int64_t>{0}));
  std::string m = vps::testing::error_of([&] {
    head.mask_removal(rois, Tensor::from_vector<float>({0.9f}, {1}), pos, Tensor::from_vector<int64_t>({1}, {1}), 12, 20);
  });
  EXPECT_NE(m.find("same n >= 1 detections"), std::string::npos) << m;
}

// MaskMatching: stuff kept, ignore kept, later masks over earlier, 255 inside a mask not painted.
TEST(PanopticHead, MaskMatchingCases) {
  PanopticHead head;
  Tensor seg = Tensor::from_vector<int64_t>({3, 12, 255, 12, 12, 0}, {2, 3});
  Tensor masks = Tensor::from_vector<uint8_t>({0, 1, 1, 1, 0, 0,   // mask 0
                                               0, 0, 0, 1, 255, 0},  // mask 1
                                              {2, 2, 3});
  EXPECT_EQ(as_i64(head.mask_matching(seg, masks)), (std::vector<int64_t>{3, 11, 11, 12, 255, 0}));
}

TEST(PanopticHead, Gradcheck) {
  PanopticHead head;
  Tensor score = vps::testing::rnd({1, 19, 5, 6}, 1).set_requires_grad();
  Tensor masks = vps::testing::rnd({2, 4, 4}, 2).set_requires_grad();
  Tensor boxes = Tensor::from_vector<float>({2, 3, 13, 15, 8, 0, 23, 19}, {2, 4});
  Tensor labels = Tensor::from_vector<int64_t>({1, 4}, {2});
  Tensor target = Tensor::from_vector<int64_t>(std::vector<int64_t>{0, 11, 12, 255, 3, 11, 2, 12, 12, 11, 1, 0, 5, 11, 12,
                                                                    12, 255, 4, 11, 11, 6, 7, 8, 9, 10, 12, 12, 11, 0, 1},
                                               {5, 6});
  vps::testing::gradcheck(
      [&](const std::vector<Tensor>& v) { return head.loss(head.train_logits(v[0], boxes, labels, v[1]), target); },
      {score, masks});
}
