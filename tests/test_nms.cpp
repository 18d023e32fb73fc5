// NMS: hand-worked +1 vs no +1, torchvision golden keep lists, greedy (CPU) == bitmask (the CUDA
// algorithm, run here on CPU through the shared HD body), class-aware variant, CUDA parity, bad input.
#include <gtest/gtest.h>

#include "layers/nms.h"
#include "tensor/device.h"
#include "tests/gradcheck.h"
#include "tests/det_fixture.h"

using namespace vps;
using vps::testing::det_fixture;
using vps::testing::expect_error;

namespace {
std::vector<int64_t> ids(const Tensor& t) { return t.cpu().to_vector<int64_t>(); }

Tensor random_boxes(int64_t n, uint64_t seed, double size) {
  Tensor xy = vps::testing::rnd({n, 2}, seed, 0, size);
  Tensor wh = vps::testing::rnd({n, 2}, seed + 1, 1, size * 0.4);
  std::vector<double> a = xy.to_vector<double>(), b = wh.to_vector<double>(), v;
  for (int64_t i = 0; i < n; ++i)
    for (double c : {a[i * 2], a[i * 2 + 1], a[i * 2] + b[i * 2], a[i * 2 + 1] + b[i * 2 + 1]}) v.push_back(c);
  return Tensor::from_vector(v, {n, 4}).to(DType::f32);
}

}  // namespace

TEST(DetNms, HandWorkedPlusOne) {
  // A = (0,0,9,9), B = (0,0,9,7). torchvision IoU = 63/81 = 0.778; legacy +1 IoU = 80/100 = 0.8.
  // At thr 0.79 only the legacy convention suppresses B. C is far away and always kept.
  Tensor boxes = Tensor::from_vector<float>({0, 0, 9, 7, 0, 0, 9, 9, 50, 50, 60, 60}, {3, 4});
  Tensor scores = Tensor::from_vector<float>({0.8f, 0.9f, 0.1f}, {3});
  EXPECT_EQ(ids(nms(boxes, scores, 0.79, false)), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(ids(nms(boxes, scores, 0.79, true)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(ids(nms(boxes, scores, 0.8, true)), (std::vector<int64_t>{1, 0, 2}));  // suppression needs IoU > thr
  // (N,5) dets layout of mmdetection v1.
  Tensor dets = Tensor::from_vector<float>({0, 0, 9, 7, 0.8f, 0, 0, 9, 9, 0.9f, 50, 50, 60, 60, 0.1f}, {3, 5});
  EXPECT_EQ(ids(nms(dets, 0.79, true)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(nms(Tensor::zeros({0, 4}), Tensor::zeros({0}), 0.5).numel(), 0);
  EXPECT_EQ(nms(boxes, scores, 0.5).dtype(), DType::i64);
}

TEST(DetNms, MatchesTorchvision) {
  Tensor boxes = det_fixture("nms_boxes"), scores = det_fixture("nms_scores");
  for (const char* t : {"03", "05", "07"}) {
    double thr = std::stod(t) / 10;
    std::vector<int64_t> want = ids(det_fixture(std::string("nms_keep_") + t));
    EXPECT_EQ(ids(nms(boxes, scores, thr)), want) << "thr " << thr;
    EXPECT_EQ(ids(nms_bitmask(boxes, scores, Tensor(), thr)), want) << "bitmask thr " << thr;
  }
  Tensor labels = det_fixture("nms_labels");
  std::vector<int64_t> want = ids(det_fixture("batched_nms_keep_05"));
  // torchvision returns batched keeps sorted by score, as we do.
  EXPECT_EQ(ids(batched_nms(boxes, scores, labels, 0.5)), want);
  EXPECT_EQ(ids(nms_bitmask(boxes, scores, labels, 0.5)), want);
}

TEST(DetNms, GreedyEqualsBitmask) {
  // 700 boxes: 11 column blocks of 64, the last one partial; both conventions, f32 and f64.
  Tensor b = random_boxes(700, 5, 100);
  Tensor s = vps::testing::rnd({700}, 9, 0, 1).to(DType::f32);
  Tensor lab = vps::testing::rnd({700}, 11, 0, 4).to(DType::i64);
  for (bool p1 : {false, true})
    for (double thr : {0.3, 0.6}) {
      EXPECT_EQ(ids(nms(b, s, thr, p1)), ids(nms_bitmask(b, s, Tensor(), thr, p1)));
      EXPECT_EQ(ids(nms(b.to(DType::f64), s.to(DType::f64), thr, p1)),
                ids(nms_bitmask(b.to(DType::f64), s.to(DType::f64), Tensor(), thr, p1)));
      EXPECT_EQ(ids(batched_nms(b, s, lab, thr, p1)), ids(nms_bitmask(b, s, lab, thr, p1)));
    }
}

TEST(DetNms, ClassAwareMatchesPerClass) {
  Tensor b = random_boxes(200, 21, 50);
  Tensor s = vps::testing::rnd({200}, 22, 0, 1).to(DType::f32);
  std::vector<int64_t> lab(200);
  for (int i = 0; i < 200; ++i) lab[size_t(i)] = i % 3;
  std::vector<int64_t> got = ids(batched_nms(b, s, Tensor::from_vector(lab, {200}), 0.5, true));
  // Per-class reference: run plain NMS on each class, map back, merge by score.
  std::vector<float> sv = s.to_vector<float>();
  std::vector<int64_t> ref;
  for (int c = 0; c < 3; ++c) {
    std::vector<int64_t> idx;
    for (int i = 0; i < 200; ++i)
      if (lab[size_t(i)] == c) idx.push_back(i);
    std::vector<float> bv = b.to_vector<float>(), cb, cs;
    for (int64_t i : idx) {
      for (int k = 0; k < 4; ++k) cb.push_back(bv[size_t(i * 4 + k)]);
      cs.push_back(sv[size_t(i)]);
    }
    int64_t n = int64_t(idx.size());
    for (int64_t k : ids(nms(Tensor::from_vector(cb, {n, 4}), Tensor::from_vector(cs, {n}), 0.5, true)))
      ref.push_back(idx[size_t(k)]);
  }
  std::stable_sort(ref.begin(), ref.end(), [&](int64_t a, int64_t c) { return sv[size_t(a)] > sv[size_t(c)]; });
  EXPECT_EQ(got, ref);
}

TEST(DetNms, NonContiguousInput) {
  Tensor b = random_boxes(150, 31, 40);
  Tensor s = vps::testing::rnd({150}, 32, 0, 1).to(DType::f32);
  Tensor bt = b.transpose(0, 1).contiguous().transpose(0, 1);  // (150,4) with strides (1,150)
  ASSERT_FALSE(bt.is_contiguous());
  EXPECT_EQ(ids(nms(bt, s, 0.5)), ids(nms(b, s, 0.5)));
}

TEST(DetNms, BadInput) {
  Tensor s = Tensor::zeros({3});
  expect_error([&] { nms(Tensor::zeros({3, 3}), s, 0.5); }, "nms", "[3, 3]");
  expect_error([&] { nms(Tensor::zeros({3, 4}), Tensor::zeros({2}), 0.5); }, "nms", "[2]");
  expect_error([&] { nms(Tensor::zeros({3, 4}, DType::i64), s, 0.5); }, "nms", "int64");
  expect_error([&] { nms(Tensor::zeros({3, 4}), s.to(DType::f64), 0.5); }, "nms");
  expect_error([&] { nms(Tensor::zeros({3, 4}), 0.5); }, "nms", "[3, 4]");
  expect_error([&] { batched_nms(Tensor::zeros({3, 4}), s, Tensor::zeros({3}), 0.5); }, "batched_nms", "float32");
}

TEST(DetNms, CudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor b = random_boxes(3000, 41, 400), s = vps::testing::rnd({3000}, 42, 0, 1).to(DType::f32);
  Tensor lab = vps::testing::rnd({3000}, 43, 0, 5).to(DType::i64);
  Device d = cuda_device(0);
  for (bool p1 : {false, true}) {
    Tensor k = nms(b.to(d), s.to(d), 0.7, p1);
    EXPECT_TRUE(k.device().is_cuda());
    EXPECT_EQ(ids(k), ids(nms(b, s, 0.7, p1)));
    EXPECT_EQ(ids(batched_nms(b.to(d), s.to(d), lab.to(d), 0.5, p1)), ids(batched_nms(b, s, lab, 0.5, p1)));
  }
}
