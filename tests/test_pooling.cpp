#include <gtest/gtest.h>

#include <cmath>

#include "layers/pooling.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::fixture;
using vps::testing::rnd;

namespace {

// Plain references on (N, C, H, W) f64, written from PyTorch's documented semantics.
Tensor naive_max(const Tensor& x, int k, int s, int p, int d, bool ceil_mode) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  int64_t Ho = pool_output_size(H, k, s, p, d, ceil_mode), Wo = pool_output_size(W, k, s, p, d, ceil_mode);
  auto xv = x.contiguous().to_vector<double>();
  std::vector<double> y;
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        double m = -INFINITY;
        for (int a = 0; a < k; ++a)
          for (int b = 0; b < k; ++b) {
            int64_t h = i * s - p + a * d, w = j * s - p + b * d;
            if (h >= 0 && h < H && w >= 0 && w < W) m = std::max(m, xv[(pl * H + h) * W + w]);
          }
        y.push_back(m);
      }
  return Tensor::from_vector<double>(y, {N, C, Ho, Wo});
}

Tensor naive_adaptive(const Tensor& x, int64_t oh, int64_t ow) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto xv = x.contiguous().to_vector<double>();
  std::vector<double> y;
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        int64_t h0 = int64_t(std::floor(double(i * H) / oh)), h1 = int64_t(std::ceil(double((i + 1) * H) / oh));
        int64_t w0 = int64_t(std::floor(double(j * W) / ow)), w1 = int64_t(std::ceil(double((j + 1) * W) / ow));
        double s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += xv[(pl * H + h) * W + w];
        y.push_back(s / double((h1 - h0) * (w1 - w0)));
      }
  return Tensor::from_vector<double>(y, {N, C, oh, ow});
}

}  // namespace

TEST(Pooling, OutputSizeRule) {
  EXPECT_EQ(pool_output_size(7, 3, 2, 1, 1, false), 4);
  // Values checked against torch 1.13's F.max_pool2d.
  EXPECT_EQ(pool_output_size(6, 3, 2, 1, 1, true), 4);
  EXPECT_EQ(pool_output_size(5, 2, 2, 0, 1, true), 3);
  EXPECT_EQ(pool_output_size(4, 2, 2, 1, 1, true), 3);
  EXPECT_EQ(pool_output_size(5, 2, 2, 1, 1, true), 3);  // ceil gives 4, but window 3 would start at 6 >= 5+1
  EXPECT_EQ(pool_output_size(10, 3, 1, 0, 2, false), 6);
}

TEST(Pooling, MaxMatchesNaive) {
  Tensor x = rnd({2, 2, 7, 6}, 1);
  for (bool cm : {false, true})
    for (int d : {1, 2}) EXPECT_ALLCLOSE(max_pool2d(x, {3, 3}, {2, 2}, {1, 1}, {d, d}, cm), naive_max(x, 3, 2, 1, d, cm), 0, 0);
  EXPECT_ALLCLOSE(max_pool2d(x, {2, 2}), naive_max(x, 2, 2, 0, 1, false), 0, 0);
}

TEST(Pooling, GoldenMaxCeilAndAvg) {
  Tensor x = fixture("nn", "maxpool_x").set_requires_grad();
  Tensor y = max_pool2d(x, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true);
  y.backward(fixture("nn", "maxpool_dy"));
  EXPECT_ALLCLOSE(y, fixture("nn", "maxpool_y"), 0, 0);
  EXPECT_ALLCLOSE(x.grad(), fixture("nn", "maxpool_dx"), 1e-12, 1e-10);
  Tensor ya = avg_pool2d(fixture("nn", "avgpool_x"), {2, 2}, {2, 2}, {1, 1}, true, true);
  EXPECT_ALLCLOSE(ya, fixture("nn", "avgpool_y"), 1e-12, 1e-10);
}

TEST(Pooling, AvgCountIncludePadDivisor) {
  Tensor x = Tensor::ones({1, 1, 3, 3}, DType::f64);
  // kernel 2, stride 2, pad 1: each window covers one padded row/col -> mean 1/4, 2/4, 2/4, 4/4
  auto v = avg_pool2d(x, {2, 2}, {2, 2}, {1, 1}).to_vector<double>();
  EXPECT_EQ(v, (std::vector<double>{0.25, 0.5, 0.5, 1.0}));
  auto u = avg_pool2d(x, {2, 2}, {2, 2}, {1, 1}, false, false).to_vector<double>();
  EXPECT_EQ(u, (std::vector<double>{1, 1, 1, 1}));
}

TEST(Pooling, AdaptiveMatchesNaive) {
  Tensor x = rnd({1, 2, 7, 5}, 2);
  for (auto os : std::vector<Pair>{{3, 2}, {1, 1}, {7, 5}, {4, 3}})
    EXPECT_ALLCLOSE(adaptive_avg_pool2d(x, os), naive_adaptive(x, os[0], os[1]), 1e-12, 1e-12);
}

TEST(Pooling, Gradcheck) {
  Tensor x = rnd({1, 2, 5, 6}, 3).set_requires_grad();
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, {1, 1}, true); }, {x});
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {2, 2}, {1, 1}, {0, 0}, {2, 2}); }, {x});
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, true); }, {x});
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {2, 3}, {2, 2}, {1, 1}, false, false); }, {x});
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {3, 4}); }, {x});
}

TEST(Pooling, NonContiguousInput) {
  Tensor x = rnd({6, 5, 2, 1}, 4).permute({3, 2, 1, 0});  // (1, 2, 5, 6)
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_ALLCLOSE(max_pool2d(x, {3, 3}, {2, 2}, {1, 1}), naive_max(x, 3, 2, 1, 1, false), 0, 0);
  EXPECT_ALLCLOSE(adaptive_avg_pool2d(x, {2, 2}), naive_adaptive(x, 2, 2), 1e-12, 1e-12);
}

TEST(Pooling, BadInput) {
  try {
    max_pool2d(rnd({2, 3, 4}, 1), {2, 2});
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("max_pool2d"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;
  }
  EXPECT_THROW(max_pool2d(rnd({1, 1, 4, 4}, 1), {2, 2}, {1, 1}, {2, 2}), Error);  // padding > k/2
  EXPECT_THROW(avg_pool2d(rnd({1, 1, 2, 2}, 1), {3, 3}), Error);                  // output empty
  EXPECT_THROW(adaptive_avg_pool2d(rnd({1, 1, 2, 2}, 1), {0, 1}), Error);
  EXPECT_THROW(max_pool2d(Tensor::zeros({1, 1, 2, 2}, DType::i64), {2, 2}), Error);
}

TEST(Pooling, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor x = rnd({2, 3, 9, 8}, 5);
  vps::testing::check_parity([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, {1, 1}, true); }, {x});
  vps::testing::check_parity([](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}, true); }, {x});
  vps::testing::check_parity([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {4, 3}); }, {x});
}

// Window order decides ties (the first maximum wins) and a NaN propagates with its index, as in PyTorch.
TEST(MaxPool2d, TiesAndNaN) {
  double nan = std::nan("");
  Tensor x = Tensor::from_vector<double>({1, 5, 5, 2, nan, 1, 0, 7, 3, -1, 7, 9}, {1, 1, 3, 4});
  auto [y, idx] = max_pool2d_with_indices(x, {2, 2}, {1, 1}, {0, 0}, {1, 1}, false);
  std::vector<double> yv = y.to_vector<double>();
  std::vector<int64_t> iv = idx.to_vector<int64_t>();
  std::vector<double> want = {nan, 5, 7, nan, 7, 9};
  std::vector<int64_t> want_idx = {4, 1, 7, 4, 10, 11};
  ASSERT_EQ(yv.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(std::isnan(want[i]) ? std::isnan(yv[i]) : yv[i] == want[i]) << i;
    EXPECT_EQ(iv[i], want_idx[i]) << i;
  }
}

// Inference max_pool2d (no indices, interior outputs vectorized) gives the same bits as the indexed
// forward: signed zeros, NaNs and -inf included, over strides, paddings, dilations and ceil mode.
TEST(MaxPool2d, ValuesPathMatchesIndexedPath) {
  std::vector<float> v = rnd({2, 3, 13, 17}, 9).to(DType::f32).to_vector<float>();
  for (size_t i = 0; i < v.size(); i += 7) v[i] = i % 2 ? 0.0f : -0.0f;
  for (size_t i = 3; i < v.size(); i += 29) v[i] = i % 3 ? -INFINITY : std::nanf("");
  Tensor x = Tensor::from_vector(v, {2, 3, 13, 17});
  for (int k : {1, 2, 3, 5})
    for (int s : {1, 2, 3})
      for (int d : {1, 2})
        for (bool cm : {false, true}) {
          int p = k / 2;
          Tensor a = max_pool2d(x, {k, k}, {s, s}, {p, p}, {d, d}, cm);
          Tensor b = max_pool2d_with_indices(x, {k, k}, {s, s}, {p, p}, {d, d}, cm).first;
          ASSERT_EQ(a.shape(), b.shape());
          std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
          for (size_t i = 0; i < av.size(); ++i) {
            bool same = std::isnan(bv[i]) ? std::isnan(av[i]) : av[i] == bv[i] && std::signbit(av[i]) == std::signbit(bv[i]);
            ASSERT_TRUE(same) << "k" << k << " s" << s << " d" << d << " ceil " << cm << " at " << i;
          }
        }
}
