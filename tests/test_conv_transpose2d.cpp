#include <gtest/gtest.h>

#include <string>

#include "layers/conv_transpose2d.h"
#include "ops/ops.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::rnd;

using vps::testing::error_of;

namespace {

// Scatter form written plainly: every x[n, ci, i, j] adds x * w[ci, co, a, e] at (i*s - p + a*d, j*s - p + e*d).
Tensor naive_conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, Pair s, Pair p, Pair op,
                              int64_t groups, Pair d = {1, 1}) {
  auto X = x.contiguous().to_vector<double>(), Wv = w.contiguous().to_vector<double>();
  int64_t N = x.size(0), Ci = x.size(1), H = x.size(2), W = x.size(3), Cog = w.size(1), kh = w.size(2),
          kw = w.size(3);
  int64_t Co = Cog * groups, Cig = Ci / groups;
  int64_t Ho = (H - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1;
  int64_t Wo = (W - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1;
  std::vector<double> Y(size_t(N * Co * Ho * Wo), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < Co; ++c)
      for (int64_t k = 0; k < Ho * Wo; ++k) Y[size_t((n * Co + c) * Ho * Wo + k)] = b.defined() ? b.to_vector<double>()[size_t(c)] : 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < Ci; ++ci)
      for (int64_t co = 0; co < Cog; ++co)
        for (int64_t i = 0; i < H; ++i)
          for (int64_t j = 0; j < W; ++j)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t e = 0; e < kw; ++e) {
                int64_t h = i * s[0] - p[0] + a * d[0], ww = j * s[1] - p[1] + e * d[1];
                if (h < 0 || h >= Ho || ww < 0 || ww >= Wo) continue;
                int64_t oc = (ci / Cig) * Cog + co;
                Y[size_t(((n * Co + oc) * Ho + h) * Wo + ww)] +=
                    X[size_t(((n * Ci + ci) * H + i) * W + j)] * Wv[size_t(((ci * Cog + co) * kh + a) * kw + e)];
              }
  return Tensor::from_vector<double>(Y, {N, Co, Ho, Wo});
}


}  // namespace

TEST(ConvTranspose2d, ForwardMatchesNaive) {
  struct Case { Shape x, w; Pair s, p, op; int64_t g; Pair d; };
  std::vector<Case> cases = {{{2, 3, 4, 3}, {3, 2, 3, 3}, {2, 2}, {1, 1}, {1, 0}, 1, {1, 1}},
                             {{1, 4, 3, 5}, {4, 3, 2, 3}, {1, 3}, {0, 1}, {0, 2}, 2, {1, 1}},
                             {{2, 2, 3, 3}, {2, 2, 3, 2}, {2, 1}, {1, 0}, {1, 0}, 1, {2, 1}},
                             {{1, 6, 3, 3}, {6, 1, 1, 1}, {1, 1}, {0, 0}, {0, 0}, 2, {1, 1}},
                             // partition geometries (stride = kernel, no padding): the fused CPU path
                             {{2, 3, 4, 3}, {3, 2, 2, 2}, {2, 2}, {0, 0}, {0, 0}, 1, {1, 1}},
                             {{1, 4, 3, 2}, {4, 3, 2, 1}, {2, 1}, {0, 0}, {0, 0}, 2, {1, 1}}};
  for (auto& c : cases) {
    Tensor x = rnd(c.x, 1), w = rnd(c.w, 2), b = rnd({c.w[1] * c.g}, 3);
    Tensor y = conv_transpose2d(x, w, b, c.s, c.p, c.op, c.g, c.d);
    EXPECT_ALLCLOSE(y, naive_conv_transpose2d(x, w, b, c.s, c.p, c.op, c.g, c.d), 1e-12, 1e-12);
  }
}

TEST(ConvTranspose2d, FusedBiasMatchesSeparateAddBitForBit) {
  // The mask head's 2x2 / 2 upsampling: on CPU the bias is written with the scattered columns (no
  // zeroing, no second pass); in float32 that must give the bits of the conv without bias + bias.
  Tensor x = rnd({3, 8, 5, 4}, 4).to(DType::f32), w = rnd({8, 6, 2, 2}, 5).to(DType::f32);
  Tensor b = rnd({6}, 6).to(DType::f32);
  Tensor fused = conv_transpose2d(x, w, b, {2, 2});
  Tensor apart = add(conv_transpose2d(x, w, Tensor(), {2, 2}), reshape(b, {1, 6, 1, 1}));
  EXPECT_ALLCLOSE(fused, apart, 0, 0);
}

TEST(ConvTranspose2d, NonContiguousInput) {
  Tensor x = rnd({2, 4, 3, 3}, 4).permute({0, 1, 3, 2}).slice(1, 0, 4, 2);  // (2, 2, 3, 3), strided
  ASSERT_FALSE(x.is_contiguous());
  Tensor w = rnd({2, 3, 2, 2}, 5);
  Tensor y = conv_transpose2d(x, w, Tensor(), {2, 2}, {0, 1}, {1, 0});
  EXPECT_ALLCLOSE(y, naive_conv_transpose2d(x, w, Tensor(), {2, 2}, {0, 1}, {1, 0}, 1), 1e-12, 1e-12);
}

TEST(ConvTranspose2d, Gradcheck) {
  Tensor x = rnd({2, 4, 3, 3}, 6).set_requires_grad();
  Tensor w = rnd({4, 2, 3, 2}, 7).set_requires_grad();
  Tensor b = rnd({4}, 8).set_requires_grad();
  vps::testing::gradcheck(
      [](const std::vector<Tensor>& v) { return conv_transpose2d(v[0], v[1], v[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2}); },
      {x, w, b});
}

TEST(ConvTranspose2d, GoldenFixtureTorch) {
  auto read_npy_f64 = [](const std::string& rel) { return vps::testing::read_npy_fixture("tests/fixtures/" + rel).to(vps::DType::f64); };
  struct Case { std::string name; Pair s, p, op; int64_t g; };
  for (const Case& c : {Case{"conv/conv_transpose2d_stride_pad_", {2, 3}, {1, 0}, {1, 2}, 1},
                        Case{"conv/conv_transpose2d_groups_", {2, 2}, {1, 1}, {1, 1}, 2}}) {
    Tensor x = read_npy_f64(c.name + "x.npy").set_requires_grad();
    Tensor w = read_npy_f64(c.name + "w.npy").set_requires_grad();
    Tensor b = read_npy_f64(c.name + "b.npy").set_requires_grad();
    Tensor y = conv_transpose2d(x, w, b, c.s, c.p, c.op, c.g);
    EXPECT_ALLCLOSE(y, read_npy_f64(c.name + "y.npy"), 1e-10, 0);
    y.backward(read_npy_f64(c.name + "gy.npy"));
    EXPECT_ALLCLOSE(x.grad(), read_npy_f64(c.name + "gx.npy"), 1e-10, 0);
    EXPECT_ALLCLOSE(w.grad(), read_npy_f64(c.name + "gw.npy"), 1e-10, 0);
    EXPECT_ALLCLOSE(b.grad(), read_npy_f64(c.name + "gb.npy"), 1e-10, 0);
  }
}

TEST(ConvTranspose2d, BadInput) {
  Tensor x = rnd({1, 4, 3, 3}, 1);
  std::string m = error_of([&] { conv_transpose2d(x, rnd({3, 2, 3, 3}, 2)); });
  EXPECT_NE(m.find("conv_transpose2d"), std::string::npos) << m;
  EXPECT_NE(m.find("channel mismatch"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 4, 3, 3]"), std::string::npos) << m;
  m = error_of([&] { conv_transpose2d(x, rnd({4, 2, 3, 3}, 2), Tensor(), {1, 1}, {0, 0}, {0, 0}, 3); });
  EXPECT_NE(m.find("groups=3"), std::string::npos) << m;
  m = error_of([&] { conv_transpose2d(x, rnd({4, 2, 3, 3}, 2).to(DType::f32)); });
  EXPECT_NE(m.find("dtype mismatch"), std::string::npos) << m;
  m = error_of([&] { conv_transpose2d(x, rnd({4, 2, 3, 3}, 2), Tensor(), {2, 2}, {0, 0}, {2, 0}); });
  EXPECT_NE(m.find("output_padding"), std::string::npos) << m;
  m = error_of([&] { conv_transpose2d(x, rnd({4, 2, 3, 3}, 2), rnd({4}, 3)); });
  EXPECT_NE(m.find("bias"), std::string::npos) << m;
}

TEST(ConvTranspose2d, ParityCpuCuda) {
  VPS_REQUIRE_CUDA();
  Tensor x = rnd({2, 4, 5, 4}, 11, -1, 1, DType::f32), w = rnd({4, 3, 3, 3}, 12, -1, 1, DType::f32);
  Tensor b = rnd({6}, 13, -1, 1, DType::f32);
  vps::testing::ParityOptions loose;  // cuDNN may pick Winograd/FFT algorithms (float32 rounding differs)
  loose.atol = 1e-4, loose.rtol = 1e-3;
  for (ConvAlgo a : {ConvAlgo::automatic, ConvAlgo::im2col})
    vps::testing::check_parity(
        [a](const std::vector<Tensor>& v) {
          return conv_transpose2d(v[0], v[1], v[2], {2, 2}, {1, 0}, {1, 1}, 2, {1, 1}, a);
        },
        {x, w, b}, loose);
}
