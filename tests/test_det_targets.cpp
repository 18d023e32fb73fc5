// Target assignment and sampling: MaxIoUAssigner, RandomSampler, RPN / RCNN / mask targets and the
// OpenCV-style 8-bit bilinear resize, all on small hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <set>

#include "models/detection/assigner.h"
#include "models/detection/det_targets.h"
#include "models/detection/sampler.h"
#include "tests/expect_error.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using namespace vps::models;
using vps::testing::expect_error;

namespace {

Tensor boxes(const std::vector<float>& v) { return Tensor::from_vector(v, {int64_t(v.size() / 4), 4}); }
std::vector<int64_t> i64(const Tensor& t) { return t.cpu().to_vector<int64_t>(); }
std::vector<double> f64(const Tensor& t) { return t.cpu().to(DType::f64).contiguous().to_vector<double>(); }

}  // namespace

TEST(DetAssigner, HandWorked) {
  Tensor gt = boxes({0, 0, 9, 9, 20, 20, 29, 29, 50, 50, 59, 59});
  Tensor gl = Tensor::from_vector<int64_t>({3, 5, 7}, {3});
  Tensor b = boxes({0, 0, 9, 9,          // IoU 1 with gt0 -> 1
                    0, 0, 9, 4,          // 0.5 with gt0: between 0.3 and 0.7 -> ignore
                    100, 100, 109, 109,  // 0 -> negative
                    20, 20, 29, 24,      // 0.5 with gt1 -> ignore
                    20, 20, 29, 26,      // 0.7 with gt1 -> 2
                    50, 50, 59, 54,      // 0.5 with gt2, gt2's best (tie) -> 3 (low quality)
                    50, 55, 59, 59});    // 0.5 with gt2, tie -> 3 with gt_max_assign_all
  AssignResult r = assign_max_iou(b, gt, gl, MaxIoUAssignerOptions::rpn());
  EXPECT_EQ(r.num_gts, 3);
  EXPECT_EQ(i64(r.gt_inds), (std::vector<int64_t>{1, -1, 0, -1, 2, 3, 3}));
  EXPECT_EQ(i64(r.labels), (std::vector<int64_t>{3, 0, 0, 0, 5, 7, 7}));
  std::vector<double> mo = f64(r.max_overlaps);
  EXPECT_NEAR(mo[0], 1.0, 1e-6);
  EXPECT_NEAR(mo[1], 0.5, 1e-6);
  EXPECT_NEAR(mo[4], 0.7, 1e-6);
  MaxIoUAssignerOptions first = MaxIoUAssignerOptions::rpn();
  first.gt_max_assign_all = false;
  EXPECT_EQ(i64(assign_max_iou(b, gt, gl, first).gt_inds), (std::vector<int64_t>{1, -1, 0, -1, 2, 3, -1}));
  // RCNN thresholds (0.5 / 0.5): 0.5 counts as positive.
  EXPECT_EQ(i64(assign_max_iou(b, gt, Tensor(), MaxIoUAssignerOptions::rcnn()).gt_inds),
            (std::vector<int64_t>{1, 1, 0, 2, 2, 3, 3}));
  // No GT: every box negative; add_gt prepends the GTs.
  AssignResult none = assign_max_iou(b, Tensor::zeros({0, 4}), Tensor(), MaxIoUAssignerOptions::rpn());
  EXPECT_EQ(i64(none.gt_inds), std::vector<int64_t>(7, 0));
  r.add_gt(gl);
  EXPECT_EQ(i64(r.gt_inds), (std::vector<int64_t>{1, 2, 3, 1, -1, 0, -1, 2, 3, 3}));
  EXPECT_EQ(i64(r.labels), (std::vector<int64_t>{3, 5, 7, 3, 0, 0, 0, 5, 7, 7}));
  expect_error([&] { assign_max_iou(b, gt, Tensor::zeros({2}, DType::i64), {}); }, {"assign_max_iou", "[2]"});
  expect_error([&] { assign_max_iou(Tensor::zeros({3, 3}), gt, gl, {}); }, {"assign_max_iou", "[3, 3]"});
}

TEST(DetSampler, RandomChoiceAndSample) {
  std::vector<int64_t> cand = {3, 5, 8, 13, 21, 34, 55};
  Generator g1(7), g2(7), g3(8);
  std::vector<int64_t> a = random_choice(cand, 4, g1), b = random_choice(cand, 4, g2), c = random_choice(cand, 4, g3);
  EXPECT_EQ(a, b);  // seeded
  EXPECT_EQ(a.size(), 4u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 4u);
  for (int64_t v : a) EXPECT_NE(std::find(cand.begin(), cand.end(), v), cand.end());
  EXPECT_EQ(random_choice(cand, 10, g3), cand);
  // Draws of different seeds differ somewhere over a few tries.
  bool differ = a != c;
  for (int i = 0; i < 5 && !differ; ++i) differ = random_choice(cand, 4, g1) != random_choice(cand, 4, g3);
  EXPECT_TRUE(differ);

  // 10 positives (gt 1..2), 30 negatives, 5 ignored; num 8 at 0.5 -> 4 + 4.
  std::vector<int64_t> gi;
  for (int i = 0; i < 45; ++i) gi.push_back(i < 10 ? 1 + i % 2 : (i < 40 ? 0 : -1));
  std::vector<float> bx;
  for (int i = 0; i < 45; ++i) bx.insert(bx.end(), {float(i), 0.f, float(i) + 5, 5.f});
  Tensor b45 = boxes(bx), gtb = boxes({0, 0, 4, 4, 1, 1, 6, 6});
  AssignResult ar;
  ar.num_gts = 2;
  ar.gt_inds = Tensor::from_vector(gi, {45});
  ar.max_overlaps = Tensor::zeros({45});
  Generator gen(1);
  SamplingResult s = random_sample(ar, b45, gtb, Tensor(), {8, 0.5, -1, false}, gen);
  ASSERT_EQ(s.num_pos(), 4);
  ASSERT_EQ(s.num_neg(), 4);
  std::vector<int64_t> pi = i64(s.pos_inds), ni = i64(s.neg_inds), ag = i64(s.pos_assigned_gt_inds);
  std::vector<double> pb = f64(s.pos_bboxes), pg = f64(s.pos_gt_bboxes);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_LT(pi[i], 10);
    EXPECT_TRUE(ni[i] >= 10 && ni[i] < 40);
    EXPECT_EQ(ag[i], pi[i] % 2);
    EXPECT_EQ(pb[i * 4], double(pi[i]));        // the box itself
    EXPECT_EQ(pg[i * 4], ag[i] == 0 ? 0.0 : 1.0);  // its GT
  }
  // Few positives: the rest are negatives; neg_pos_ub caps them.
  AssignResult ar2 = ar;
  std::vector<int64_t> gi2(45, 0);
  gi2[3] = 1;
  ar2.gt_inds = Tensor::from_vector(gi2, {45});
  EXPECT_EQ(random_sample(ar2, b45, gtb, Tensor(), {8, 0.5, -1, false}, gen).num_neg(), 7);
  EXPECT_EQ(random_sample(ar2, b45, gtb, Tensor(), {8, 0.5, 2, false}, gen).num_neg(), 2);
  // add_gt_as_proposals: the GTs come first and are flagged.
  AssignResult ar3 = ar2;
  SamplingResult s3 = random_sample(ar3, b45, gtb, Tensor(), {512, 0.25, -1, true}, gen);
  EXPECT_EQ(i64(s3.pos_inds), (std::vector<int64_t>{0, 1, 5}));
  EXPECT_EQ(s3.pos_is_gt.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0}));
  EXPECT_EQ(i64(s3.pos_assigned_gt_inds), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(s3.num_neg(), 44);
  EXPECT_EQ(s3.bboxes().size(0), 47);
  expect_error([&] { random_sample(ar, boxes({0, 0, 1, 1}), gtb, Tensor(), {}, gen); }, {"random_sample", "[1, 4]"});
}

TEST(DetTargets, RpnHandWorked) {
  // Image 32x32, GT (4,4,19,19).
  Tensor anchors = boxes({4, 4, 19, 19,      // IoU 1: positive, delta 0
                          0, 0, 35, 35,      // outside the image: never sampled
                          20, 20, 27, 27,    // IoU 0: negative
                          4, 4, 19, 19,      // not valid: never sampled
                          5, 4, 20, 19});    // IoU 240/272 = 0.88: positive, dx = -1/16
  Tensor valid = Tensor::from_vector<uint8_t>({1, 1, 1, 0, 1}, {5});
  Generator gen(3);
  RPNTargets t = rpn_targets(anchors, valid, boxes({4, 4, 19, 19}), 32, 32, {}, gen);
  EXPECT_EQ(t.num_pos, 2);
  EXPECT_EQ(t.num_neg, 1);
  EXPECT_EQ(t.avg_factor(), 3.0);
  EXPECT_EQ(f64(t.labels), (std::vector<double>{1, 0, 0, 0, 1}));
  EXPECT_EQ(f64(t.label_weights), (std::vector<double>{1, 0, 1, 0, 1}));
  std::vector<double> bt = f64(t.bbox_targets), bw = f64(t.bbox_weights);
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(bt[size_t(c)], 0, 1e-7);
  EXPECT_NEAR(bt[16], -1.0 / 16, 1e-7);
  EXPECT_NEAR(bt[17], 0, 1e-7);
  EXPECT_NEAR(bt[18], 0, 1e-7);
  EXPECT_EQ(bw, (std::vector<double>{1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));
  // No positives: the avg factor still counts one positive (mmdet's max(num, 1)).
  RPNTargets n = rpn_targets(boxes({20, 20, 27, 27}), Tensor::ones({1}, DType::u8), boxes({4, 4, 19, 19}), 32, 32, {}, gen);
  EXPECT_EQ(n.num_pos, 0);
  EXPECT_EQ(n.avg_factor(), 2.0);
  expect_error([&] { rpn_targets(anchors, Tensor::ones({4}, DType::u8), boxes({4, 4, 19, 19}), 32, 32, {}, gen); },
               {"rpn_targets", "valid_flags"});
}

TEST(DetTargets, RcnnHandWorked) {
  Tensor gt = boxes({10, 10, 29, 29});
  Tensor gl = Tensor::from_vector<int64_t>({4}, {1});
  Tensor props = Tensor::from_vector<float>({10, 10, 29, 29, 0.9f,    // duplicate of the GT
                                             12, 10, 31, 29, 0.8f,    // IoU 360/440: positive, dx = -1
                                             40, 40, 50, 50, 0.7f},   // negative
                                            {3, 5});
  Generator gen(5);
  RCNNTargets t = rcnn_targets(props, gt, gl, {}, gen);
  EXPECT_EQ(t.num_pos, 3);  // the GT itself, then the two positives
  EXPECT_EQ(f64(t.rois), (std::vector<double>{0, 10, 10, 29, 29, 0, 10, 10, 29, 29, 0, 12, 10, 31, 29, 0, 40, 40, 50, 50}));
  EXPECT_EQ(i64(t.labels), (std::vector<int64_t>{4, 4, 4, 0}));
  EXPECT_EQ(f64(t.label_weights), (std::vector<double>{1, 1, 1, 1}));
  std::vector<double> bt = f64(t.bbox_targets);
  EXPECT_NEAR(bt[8], -1.0, 1e-6);  // (19.5 - 21.5) / 20 / 0.1
  for (size_t i : {0, 1, 2, 3, 9, 10, 11, 12, 13, 14, 15}) EXPECT_NEAR(bt[i], 0, 1e-6) << i;
  EXPECT_EQ(f64(t.bbox_weights), (std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(i64(t.pos_assigned_gt_inds), (std::vector<int64_t>{0, 0, 0}));
  expect_error([&] { rcnn_targets(props, gt, Tensor::from_vector<int64_t>({1, 2}, {2}), {}, gen); },
               {"rcnn_targets", "gt_labels"});
}

TEST(DetTargets, ResizeBilinearU8HandWorked) {
  // 2 -> 4 columns: taps (0|2048), (1536|512), (512|1536), (2048 on the last); 255 * 0.25 = 63.75 -> 64.
  Tensor src = Tensor::from_vector<uint8_t>({0, 255, 0, 255}, {2, 2});
  std::vector<uint8_t> r = resize_bilinear_u8(src, 3, 4).to_vector<uint8_t>();
  EXPECT_EQ(r, (std::vector<uint8_t>{0, 64, 191, 255, 0, 64, 191, 255, 0, 64, 191, 255}));
  // 2x downsampling averages 2x2 blocks with rounding half up: 3/4 -> 1, 2/4 -> 1, 1/4 -> 0.
  Tensor m = Tensor::from_vector<uint8_t>({1, 1, 1, 1, 0, 0,
                                           1, 0, 1, 0, 0, 1,
                                           0, 0, 0, 0, 1, 1,
                                           0, 0, 0, 0, 1, 1}, {4, 6});
  EXPECT_EQ(resize_bilinear_u8(m, 2, 3).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 0, 0, 1}));
  // Rows: 2 -> 4 on a column step, the top row's taps both clamp to row 0.
  Tensor col = Tensor::from_vector<uint8_t>({0, 200}, {2, 1});
  EXPECT_EQ(resize_bilinear_u8(col, 4, 1).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 50, 150, 200}));
  EXPECT_EQ(resize_bilinear_u8(m, 4, 6).to_vector<uint8_t>(), m.to_vector<uint8_t>());
  expect_error([&] { resize_bilinear_u8(Tensor::zeros({2, 2}), 4, 4); }, {"resize_bilinear_u8", "float32"});
}

TEST(DetTargets, MaskTargets) {
  std::vector<uint8_t> mv(20 * 20, 0);
  for (int y = 4; y < 12; ++y)
    for (int x = 6; x < 14; ++x) mv[size_t(y * 20 + x)] = 1;
  Tensor masks = Tensor::from_vector(mv, {1, 20, 20});
  Tensor props = boxes({6, 4, 13, 11.7f,    // int box covers the object exactly: all ones
                        2.9f, 4, 17, 11});  // x 2..17 (w 16): 4 zero, 8 one, 4 zero columns
  Tensor t = mask_targets(props, Tensor::zeros({2}, DType::i64), masks, 28);
  ASSERT_EQ(t.shape(), (Shape{2, 28, 28}));
  std::vector<double> v = f64(t);
  double s0 = 0;
  for (int i = 0; i < 784; ++i) s0 += v[size_t(i)];
  EXPECT_EQ(s0, 784.0);
  for (int y = 0; y < 28; ++y) {
    int ones = 0;
    for (int x = 0; x < 28; ++x) {
      double a = v[size_t(784 + y * 28 + x)], b = v[size_t(784 + y * 28 + 27 - x)];
      EXPECT_EQ(a, b);  // symmetric
      ones += a == 1;
    }
    EXPECT_NEAR(ones, 14, 1) << y;  // 8/16 of 28 columns
    EXPECT_EQ(v[size_t(784 + y * 28)], 0.0);
  }
  expect_error([&] { mask_targets(props, Tensor::ones({2}, DType::i64), masks, 28); }, {"mask_targets", "gt index 1"});
  expect_error([&] { mask_targets(props, Tensor::zeros({2}, DType::i64), masks.to(DType::f32), 28); },
               {"mask_targets", "gt_masks"});
}

TEST(DetTargets, ResizeMatchesOpenCV) {
  // tests/fixtures/det_targets/make_det_targets.py: cv2 4.8.1 resize INTER_LINEAR on uint8 (0/1 masks and 0..255),
  // up- and downsampling, 1x1 and 1xN sources, non-square outputs, the 2x case cv2 routes to INTER_AREA.
  for (int i = 0; i < 11; ++i) {
    std::string base = "tests/fixtures/det_targets/resize" + std::to_string(i);
    Tensor src = vps::testing::read_npy_fixture(base + "_src.npy");
    Tensor dst = vps::testing::read_npy_fixture(base + "_dst.npy");
    ASSERT_EQ(src.dtype(), DType::u8);
    Tensor ours = resize_bilinear_u8(src, dst.size(0), dst.size(1));
    EXPECT_EQ(ours.to_vector<uint8_t>(), dst.to_vector<uint8_t>()) << "case " << i << " " << src.str();
  }
}

TEST(DetTargets, MaskTargetsMatchMmdet) {
  // mmdet v1 mask_target_single in numpy + cv2: int32 corners, max(.. + 1, 1) sizes, crop, resize.
  Tensor masks = vps::testing::read_npy_fixture("tests/fixtures/det_targets/mt_masks.npy");
  Tensor props = vps::testing::fixture("det_targets", "mt_props").to(DType::f32);
  Tensor gi = vps::testing::read_npy_fixture("tests/fixtures/det_targets/mt_gt_inds.npy");
  Tensor expect = vps::testing::fixture("det_targets", "mt_targets");
  Tensor ours = mask_targets(props, gi, masks, 28);
  EXPECT_EQ(ours.dtype(), DType::f32);
  EXPECT_EQ(f64(ours), f64(expect));
}

TEST(DetTargets, AssignerAndRpnTargetsMatchTorchReference) {
  // tests/fixtures/det_targets/make_det_targets.py: mmdet v1 assign_wrt_overlaps / anchor_target_single in torch on
  // 6 GTs and 300 anchors (jittered copies of the GTs and random boxes, some outside a 120x160 image,
  // every 17th invalid), with sampling keeping every candidate so the targets are deterministic.
  auto fx = [](const char* n) { return vps::testing::fixture("det_targets", std::string("as_") + n); };
  Tensor gt = fx("gt").to(DType::f32), anchors = fx("anchors").to(DType::f32);
  AssignResult rpn = assign_max_iou(anchors, gt, Tensor(), MaxIoUAssignerOptions::rpn());
  EXPECT_EQ(i64(rpn.gt_inds), i64(fx("assigned").to(DType::i64)));
  EXPECT_ALLCLOSE(rpn.max_overlaps, fx("max_overlaps").to(DType::f32), 1e-6, 0);
  EXPECT_EQ(i64(assign_max_iou(anchors, gt, Tensor(), MaxIoUAssignerOptions::rcnn()).gt_inds),
            i64(fx("assigned_rcnn").to(DType::i64)));
  std::vector<int64_t> a = i64(rpn.gt_inds);
  EXPECT_GT(std::count_if(a.begin(), a.end(), [](int64_t v) { return v > 0; }), 10);  // a meaningful case
  EXPECT_GT(std::count(a.begin(), a.end(), -1), 10);
  RPNTargetOptions keep_all;
  keep_all.sampler = {1000000, 1.0, -1, false};
  Generator gen(0);
  RPNTargets t = rpn_targets(anchors, fx("valid").to(DType::u8), gt, 120, 160, keep_all, gen);
  EXPECT_EQ(f64(t.labels), f64(fx("labels")));
  EXPECT_EQ(f64(t.label_weights), f64(fx("label_weights")));
  EXPECT_EQ(f64(t.bbox_weights), f64(fx("bbox_weights")));
  EXPECT_ALLCLOSE(t.bbox_targets, fx("bbox_targets").to(DType::f32), 1e-5, 1e-5);
}
