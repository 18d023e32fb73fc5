// Box coder and IoU: hand-worked mmdetection v1 decode (+1 widths, clamp, clip), encode/decode round
// trip, torchvision box_iou fixture, legacy IoU by hand, CUDA parity, bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "layers/box_coder.h"
#include "tensor/device.h"
#include "tests/gradcheck.h"
#include "tests/det_fixture.h"

using namespace vps;
using vps::testing::det_fixture;
using vps::testing::expect_error;

TEST(DetBoxCoder, Delta2BboxHandWorked) {
  // roi (0,0,9,19): pw=10, ph=20, centre (4.5, 9.5). delta (0.1, -0.1, log 2, 0):
  // gx = 4.5 + 1 = 5.5, gy = 9.5 - 2 = 7.5, gw = 20, gh = 20 ->
  // x1 = 5.5 - 10 + 0.5 = -4, y1 = -2, x2 = 5.5 + 10 - 0.5 = 15, y2 = 17.
  Tensor roi = Tensor::from_vector<double>({0, 0, 9, 19}, {1, 4});
  Tensor d = Tensor::from_vector<double>({0.1, -0.1, std::log(2.0), 0}, {1, 4});
  EXPECT_ALLCLOSE(delta2bbox(roi, d), Tensor::from_vector<double>({-4, -2, 15, 17}, {1, 4}), 1e-12, 0);
  BoxCoderParams clip;
  clip.max_h = 30;
  clip.max_w = 12;  // clip to [0, 11] x [0, 29]
  EXPECT_ALLCLOSE(delta2bbox(roi, d, clip), Tensor::from_vector<double>({0, 0, 11, 17}, {1, 4}), 1e-12, 0);
  // dw = 10 is clamped to |log(16/1000)|: gw = 10 * 1000/16 = 625.
  Tensor big = Tensor::from_vector<double>({0, 0, 10, 0}, {1, 4});
  std::vector<double> v = delta2bbox(roi, big).to_vector<double>();
  EXPECT_NEAR(v[2] - v[0] + 1, 625.0, 1e-9);
  // dw = -10 is clamped to -4.135 (gw = 0.16) by default, not at all with clamp_below = false (UPSNet).
  Tensor small = Tensor::from_vector<double>({0, 0, -10, -10}, {1, 4});
  v = delta2bbox(roi, small).to_vector<double>();
  EXPECT_NEAR(v[2] - v[0] + 1, 0.16, 1e-9);
  BoxCoderParams ups;
  ups.clamp_below = false;
  v = delta2bbox(roi, small, ups).to_vector<double>();
  EXPECT_NEAR(v[2] - v[0] + 1, 10 * std::exp(-10.0), 1e-12);
  EXPECT_NEAR(v[3] - v[1] + 1, 20 * std::exp(-10.0), 1e-12);
  // stds (0.1, 0.1, 0.2, 0.2): delta (1, -1, 5 log 2, 0) means the same as the first example.
  BoxCoderParams st;
  st.stds[0] = st.stds[1] = 0.1;
  st.stds[2] = st.stds[3] = 0.2;
  Tensor d2 = Tensor::from_vector<double>({1, -1, 5 * std::log(2.0), 0}, {1, 4});
  EXPECT_ALLCLOSE(delta2bbox(roi, d2, st), Tensor::from_vector<double>({-4, -2, 15, 17}, {1, 4}), 1e-12, 0);
  // Two classes: (K, 8) deltas decode the same roi twice.
  Tensor d8 = Tensor::from_vector<double>({0, 0, 0, 0, 0.1, -0.1, std::log(2.0), 0}, {1, 8});
  EXPECT_ALLCLOSE(delta2bbox(roi, d8), Tensor::from_vector<double>({0, 0, 9, 19, -4, -2, 15, 17}, {1, 8}), 1e-12, 0);
}

TEST(DetBoxCoder, RoundTrip) {
  Tensor p = vps::testing::rnd({20, 4}, 1, 0, 50);
  std::vector<double> v = p.to_vector<double>();
  for (int i = 0; i < 20; ++i) {  // make x2 > x1, y2 > y1
    v[i * 4 + 2] = v[i * 4 + 0] + std::fabs(v[i * 4 + 2]) + 2;
    v[i * 4 + 3] = v[i * 4 + 1] + std::fabs(v[i * 4 + 3]) + 2;
  }
  p = Tensor::from_vector(v, {20, 4});
  Tensor d = vps::testing::rnd({20, 4}, 2, -0.5, 0.5);
  BoxCoderParams st;
  st.means[0] = 0.05;
  st.stds[2] = 0.2;
  Tensor g = delta2bbox(p, d, st);
  EXPECT_ALLCLOSE(bbox2delta(p, g, st), d, 1e-10, 1e-8);
  // Non-contiguous proposals: a strided slice of a wider tensor.
  Tensor wide = Tensor::zeros({20, 8}, DType::f64);
  wide.slice(1, 2, 6).copy_(p);
  EXPECT_ALLCLOSE(bbox2delta(wide.slice(1, 2, 6), g, st), d, 1e-10, 1e-8);
}

TEST(DetBoxCoder, IouTorchvisionAndLegacy) {
  Tensor a = det_fixture("iou_a"), b = det_fixture("iou_b");
  EXPECT_ALLCLOSE(box_iou(a, b, false), det_fixture("iou_tv"), 1e-12, 1e-10);
  EXPECT_ALLCLOSE(box_iou(a.to(DType::f32), b.to(DType::f32), false), det_fixture("iou_tv"), 1e-6, 1e-5);
  // (0,0,9,9) vs (5,0,14,9): legacy areas 100, inter 5*10 = 50 -> 1/3; torchvision 36/(81+81-36).
  Tensor x = Tensor::from_vector<double>({0, 0, 9, 9}, {1, 4}), y = Tensor::from_vector<double>({5, 0, 14, 9}, {1, 4});
  EXPECT_NEAR(box_iou(x, y, true).item<double>(), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(box_iou(x, y, false).item<double>(), 36.0 / 126.0, 1e-12);
  // Touching boxes overlap by one pixel in the +1 convention, not at all in torchvision's.
  Tensor z = Tensor::from_vector<double>({9, 0, 19, 9}, {1, 4});
  EXPECT_NEAR(box_iou(x, z, true).item<double>(), 10.0 / 200.0, 1e-12);
  EXPECT_EQ(box_iou(x, z, false).item<double>(), 0.0);
}

TEST(DetBoxCoder, BadInput) {
  Tensor r = Tensor::zeros({3, 4});
  expect_error([&] { delta2bbox(Tensor::zeros({3, 3}), r); }, "delta2bbox", "[3, 3]");
  expect_error([&] { delta2bbox(r, Tensor::zeros({3, 5})); }, "delta2bbox", "[3, 5]");
  expect_error([&] { delta2bbox(r, Tensor::zeros({3, 4}, DType::f64)); }, "delta2bbox");
  expect_error([&] { bbox2delta(r, Tensor::zeros({2, 4})); }, "bbox2delta");
  expect_error([&] { box_iou(Tensor::zeros({3, 4}, DType::i32), r); }, "box_iou", "int32");
  expect_error([&] { box_iou(r, Tensor::zeros({4})); }, "box_iou", "[4]");
}

TEST(DetBoxCoder, CudaParity) {
  VPS_REQUIRE_CUDA();
  Device dev = cuda_device(0);
  Tensor a = det_fixture("iou_a"), b = det_fixture("iou_b");
  EXPECT_ALLCLOSE(box_iou(a.to(dev), b.to(dev), true), box_iou(a, b, true), 1e-12, 1e-10);
  Tensor d = vps::testing::rnd({7, 8}, 3, -2, 2);
  BoxCoderParams p;
  p.max_h = 20;
  p.max_w = 25;
  EXPECT_ALLCLOSE(delta2bbox(a.to(dev), d.to(dev), p), delta2bbox(a, d, p), 1e-10, 1e-10);
  EXPECT_ALLCLOSE(bbox2delta(a.slice(0, 0, 5).to(dev), b.to(dev), p), bbox2delta(a.slice(0, 0, 5), b, p), 1e-10, 1e-10);
}
