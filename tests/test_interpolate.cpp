#include <gtest/gtest.h>

#include <cmath>

#include "layers/interpolate.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::fixture;
using vps::testing::rnd;

namespace {

// Plain bilinear reference for one plane layout (N, C, H, W), f64.
Tensor naive_bilinear(const Tensor& x, int64_t Ho, int64_t Wo, bool align) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto xv = x.contiguous().to_vector<double>();
  auto src = [&](int64_t d, int64_t in, int64_t out) {
    if (align) return out > 1 ? double(d) * double(in - 1) / double(out - 1) : 0.0;
    return std::max((double(d) + 0.5) * double(in) / double(out) - 0.5, 0.0);
  };
  std::vector<double> y;
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        double sh = src(i, H, Ho), sw = src(j, W, Wo);
        int64_t h0 = int64_t(std::floor(sh)), w0 = int64_t(std::floor(sw));
        int64_t h1 = std::min(h0 + 1, H - 1), w1 = std::min(w0 + 1, W - 1);
        double a = sh - double(h0), b = sw - double(w0);
        auto at = [&](int64_t h, int64_t w) { return xv[(pl * H + h) * W + w]; };
        y.push_back((1 - a) * ((1 - b) * at(h0, w0) + b * at(h0, w1)) + a * ((1 - b) * at(h1, w0) + b * at(h1, w1)));
      }
  return Tensor::from_vector<double>(y, {N, C, Ho, Wo});
}

Tensor naive_nearest(const Tensor& x, int64_t Ho, int64_t Wo) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto xv = x.contiguous().to_vector<double>();
  std::vector<double> y;
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        int64_t h = std::min(int64_t(std::floor(double(i) * H / Ho)), H - 1);
        int64_t w = std::min(int64_t(std::floor(double(j) * W / Wo)), W - 1);
        y.push_back(xv[(pl * H + h) * W + w]);
      }
  return Tensor::from_vector<double>(y, {N, C, Ho, Wo});
}

}  // namespace

TEST(Interpolate, MatchesNaive) {
  Tensor x = rnd({2, 1, 3, 5}, 1);
  for (Pair s : std::vector<Pair>{{6, 10}, {2, 3}, {1, 1}, {7, 4}, {3, 5}}) {
    EXPECT_ALLCLOSE(interpolate(x, s, InterpMode::nearest), naive_nearest(x, s[0], s[1]), 0, 0);
    for (bool ac : {false, true})
      EXPECT_ALLCLOSE(interpolate(x, s, InterpMode::bilinear, ac), naive_bilinear(x, s[0], s[1], ac), 1e-12, 1e-12);
  }
}

TEST(Interpolate, GoldenBilinearBothAlignCorners) {
  for (int ac : {0, 1})
    for (std::string tag : {"up", "down"}) {
      std::string name = "bilinear_" + tag + "_ac" + std::to_string(ac);
      Tensor x = fixture("nn", "interp_x").set_requires_grad();
      Tensor ref = fixture("nn", name + "_y");
      Tensor y = interpolate(x, {ref.size(2), ref.size(3)}, InterpMode::bilinear, ac == 1);
      y.backward(fixture("nn", name + "_dy"));
      EXPECT_ALLCLOSE(y, ref, 1e-12, 1e-10) << name;
      EXPECT_ALLCLOSE(x.grad(), fixture("nn", name + "_dx"), 1e-12, 1e-10) << name;
    }
}

TEST(Interpolate, GoldenScaleFactor) {
  Tensor x = fixture("nn", "interp_x");
  EXPECT_ALLCLOSE(interpolate_scale(x, {1.5, 1.5}, InterpMode::nearest), fixture("nn", "nearest_scale_y"), 0, 0);
  EXPECT_ALLCLOSE(interpolate_scale(x, {1.5, 1.5}, InterpMode::bilinear), fixture("nn", "bilinear_scale_y"), 1e-12, 1e-10);
}

TEST(Interpolate, Gradcheck) {
  Tensor x = rnd({1, 2, 3, 4}, 2).set_requires_grad();
  for (bool ac : {false, true})
    vps::testing::gradcheck([ac](const std::vector<Tensor>& in) { return interpolate(in[0], {5, 3}, InterpMode::bilinear, ac); }, {x});
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return interpolate(in[0], {7, 6}, InterpMode::nearest); }, {x});
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return interpolate_scale(in[0], {2, 0.5}, InterpMode::bilinear); }, {x});
}

TEST(Interpolate, NonContiguousInput) {
  Tensor x = rnd({4, 3, 2, 1}, 3).permute({3, 2, 1, 0});  // (1, 2, 3, 4)
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_ALLCLOSE(interpolate(x, {5, 7}, InterpMode::bilinear), naive_bilinear(x, 5, 7, false), 1e-12, 1e-12);
}

TEST(Interpolate, BadInput) {
  try {
    interpolate(rnd({2, 3, 4}, 1), {2, 2}, InterpMode::bilinear);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("interpolate"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;
  }
  EXPECT_THROW(interpolate(rnd({1, 1, 2, 2}, 1), {0, 2}, InterpMode::bilinear), Error);
  EXPECT_THROW(interpolate(rnd({1, 1, 2, 2}, 1), {4, 4}, InterpMode::nearest, true), Error);
  EXPECT_THROW(interpolate_scale(rnd({1, 1, 2, 2}, 1), {-1, 2}, InterpMode::nearest), Error);
}

TEST(Interpolate, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor x = rnd({2, 3, 7, 9}, 4);
  for (bool ac : {false, true})
    vps::testing::check_parity([ac](const std::vector<Tensor>& in) { return interpolate(in[0], {13, 5}, InterpMode::bilinear, ac); }, {x});
  vps::testing::check_parity([](const std::vector<Tensor>& in) { return interpolate(in[0], {13, 5}, InterpMode::nearest); }, {x});
}
