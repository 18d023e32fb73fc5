// FlowNet2's custom ops (layers/flow_ops.h: layers/correlation.cu, resample2d.cu, channel_norm.cu):
// golden fixtures from direct PyTorch implementations of the spec's formulas
// (tests/fixtures/flow_ops/make_flow_ops_fixtures.py: pad-and-shift correlation, grid_sample with
// border padding, vector_norm), forward and every gradient in float64, float32 against them, float64
// gradchecks, the zero-flow and clamped-corner rules of resample2d, bad input, CPU-vs-CUDA parity.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "layers/flow_ops.h"
#include "ops/ops.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::error_of;
using vps::testing::rnd;

namespace {

Tensor fx(const std::string& c, const char* k) { return vps::testing::fixture("flow_ops", c + "_" + k); }

// The output gradient the generator seeds backward with: cos(0.37 i) over the flat index.
Tensor seed_grad(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = std::cos(0.37 * double(i));
  return Tensor::from_vector<double>(v, s);
}

struct Grads {
  Tensor y, ga, gb;
};
// y = f(a, b) and the gradients of both inputs for the output gradient gy.
template <class F>
Grads run2(const F& f, const Tensor& a, const Tensor& b, const Tensor& gy) {
  Tensor ag = a.detach().set_requires_grad(), bg = b.detach().set_requires_grad();
  Tensor y = f(ag, bg);
  y.backward(gy.to(y.dtype()));
  return {y.detach(), ag.grad(), bg.grad()};
}

struct CorrCase {
  const char* name;
  CorrelationOptions o;
};
CorrelationOptions corr_opts(int64_t pad, int64_t md, int64_t s2) {
  CorrelationOptions o;
  o.pad_size = pad, o.max_displacement = md, o.stride2 = s2;
  return o;
}
const CorrCase kCorrCases[] = {{"corr_flownet2", CorrelationOptions{}},
                               {"corr_md4_s2", corr_opts(4, 4, 2)},
                               {"corr_pad2_md3", corr_opts(2, 3, 1)},
                               {"corr_pad3_md2", corr_opts(3, 2, 1)}};

Grads run_corr(const std::string& c, const CorrelationOptions& o, DType dt = DType::f64) {
  Tensor ref = fx(c, "out");
  return run2([&](const Tensor& a, const Tensor& b) { return correlation(a, b, o); }, fx(c, "f1").to(dt),
              fx(c, "f2").to(dt), seed_grad(ref.shape()));
}

}  // namespace

TEST(Correlation, MatchesPadAndShiftFixtures) {
  for (const CorrCase& c : kCorrCases) {
    SCOPED_TRACE(c.name);
    Grads r = run_corr(c.name, c.o);
    ASSERT_EQ(r.y.shape(), fx(c.name, "out").shape());
    EXPECT_ALLCLOSE(r.y, fx(c.name, "out"), 1e-13, 1e-12);
    EXPECT_ALLCLOSE(r.ga, fx(c.name, "g1"), 1e-13, 1e-12);
    EXPECT_ALLCLOSE(r.gb, fx(c.name, "g2"), 1e-13, 1e-12);
    Grads f = run_corr(c.name, c.o, DType::f32);  // float32 against the float64 oracle
    EXPECT_ALLCLOSE(f.y, fx(c.name, "out"), 1e-5, 1e-5);
    EXPECT_ALLCLOSE(f.ga, fx(c.name, "g1"), 1e-5, 1e-5);
    EXPECT_ALLCLOSE(f.gb, fx(c.name, "g2"), 1e-5, 1e-5);
  }
}

// The defaults are FlowNet2's call: 441 channels at the input's size, channel (tj+10)*21 + (ti+10).
TEST(Correlation, DefaultsAreFlowNet2s) {
  Tensor f1 = rnd({1, 3, 9, 11}, 1), f2 = rnd({1, 3, 9, 11}, 2);
  Tensor y = correlation(f1, f2);
  ASSERT_EQ(y.shape(), (Shape{1, 441, 9, 11}));
  // displacement (dy, dx) = (2, -4): tj = 1, ti = -2 -> channel 11 * 21 + 8; pixel (3, 5) reads f2 at (5, 1)
  std::vector<double> a = f1.to_vector<double>(), b = f2.to_vector<double>(), o = y.contiguous().to_vector<double>();
  double want = 0;
  for (int64_t c = 0; c < 3; ++c) want += a[size_t((c * 9 + 3) * 11 + 5)] * b[size_t((c * 9 + 5) * 11 + 1)];
  EXPECT_NEAR(o[size_t(((11 * 21 + 8) * 9 + 3) * 11 + 5)], want / 3, 1e-14);
}

// Gradients of one input only (the other is a constant), and strided inputs.
TEST(Correlation, OneInputNeedsGradAndStridedInputs) {
  const CorrCase& c = kCorrCases[1];
  Tensor f1 = fx(c.name, "f1"), f2 = fx(c.name, "f2").detach().set_requires_grad();
  Tensor f1t = contiguous(transpose(f1, 2, 3)).transpose(2, 3);  // same values, permuted strides
  ASSERT_FALSE(f1t.is_contiguous());
  Tensor y = correlation(f1t, f2, c.o);
  EXPECT_ALLCLOSE(y, fx(c.name, "out"), 1e-13, 1e-12);
  y.backward(seed_grad(y.shape()));
  EXPECT_ALLCLOSE(f2.grad(), fx(c.name, "g2"), 1e-13, 1e-12);
}

TEST(Correlation, Gradcheck) {
  Tensor f1 = rnd({2, 3, 5, 6}, 3).set_requires_grad(), f2 = rnd({2, 3, 5, 6}, 4).set_requires_grad();
  for (const CorrelationOptions& o : {corr_opts(4, 4, 2), corr_opts(1, 2, 1), corr_opts(3, 2, 1)}) {
    vps::testing::gradcheck([&](const std::vector<Tensor>& v) { return correlation(v[0], v[1], o); }, {f1, f2});
  }
}

TEST(Correlation, BadInputNamesTheShapes) {
  Tensor a = rnd({1, 4, 6, 7}, 1);
  std::string m = error_of([&] { correlation(a, rnd({1, 4, 6, 8}, 2)); });
  EXPECT_NE(m.find("[1, 4, 6, 7]"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 4, 6, 8]"), std::string::npos) << m;
  m = error_of([&] { correlation(a, a.to(DType::f32)); });
  EXPECT_NE(m.find("float32"), std::string::npos) << m;
  m = error_of([&] { correlation(a.to(DType::i64), a.to(DType::i64)); });
  EXPECT_NE(m.find("int64"), std::string::npos) << m;
  m = error_of([&] { correlation(rnd({4, 6, 7}, 1), rnd({4, 6, 7}, 1)); });
  EXPECT_NE(m.find("[4, 6, 7]"), std::string::npos) << m;
  CorrelationOptions o;
  o.kernel_size = 3;
  m = error_of([&] { correlation(a, a, o); });
  EXPECT_NE(m.find("kernel_size 3"), std::string::npos) << m;
  o = CorrelationOptions{};
  o.stride1 = 2;
  m = error_of([&] { correlation(a, a, o); });
  EXPECT_NE(m.find("stride1 2"), std::string::npos) << m;
  m = error_of([&] { correlation(a, a, corr_opts(0, 3, 1)); });  // 6 - 2 * 3 = 0 rows
  EXPECT_NE(m.find("empty output 0x1"), std::string::npos) << m;
  m = error_of([&] { correlation(a, a, corr_opts(2, 2, 0)); });
  EXPECT_NE(m.find("stride2 >= 1"), std::string::npos) << m;
}

TEST(Correlation, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  for (const CorrCase& c : kCorrCases) {
    SCOPED_TRACE(c.name);
    vps::testing::ParityOptions po;
    po.atol = 1e-10;
    vps::testing::check_parity([&](const std::vector<Tensor>& v) { return correlation(v[0], v[1], c.o); },
                               {fx(c.name, "f1"), fx(c.name, "f2")}, po);
  }
}

// ------------------------------------------------------------------------------------------ resample2d

TEST(Resample2d, MatchesGridSampleBorderFixtures) {
  for (const char* c : {"resample_border", "resample_flow_size"}) {
    SCOPED_TRACE(c);
    Grads r = run2([](const Tensor& a, const Tensor& b) { return resample2d(a, b); }, fx(c, "img"), fx(c, "flow"),
                   fx(c, "gout"));
    EXPECT_ALLCLOSE(r.y, fx(c, "out"), 1e-13, 1e-12);
    EXPECT_ALLCLOSE(r.ga, fx(c, "gimg"), 1e-13, 1e-12);
    EXPECT_ALLCLOSE(r.gb, fx(c, "gflow"), 1e-12, 1e-12);
    Grads f = run2([](const Tensor& a, const Tensor& b) { return resample2d(a, b); }, fx(c, "img").to(DType::f32),
                   fx(c, "flow").to(DType::f32), fx(c, "gout"));
    EXPECT_ALLCLOSE(f.y, fx(c, "out"), 1e-5, 1e-5);
    EXPECT_ALLCLOSE(f.ga, fx(c, "gimg"), 1e-5, 1e-5);
    EXPECT_ALLCLOSE(f.gb, fx(c, "gflow"), 1e-4, 1e-4);
  }
  // the fixture's flows send many samples outside the image (where the border is replicated)
  std::vector<double> fl = fx("resample_border", "flow").to_vector<double>();
  int outside = 0;
  for (int64_t i = 0; i < 6 * 7; ++i) {
    double x = double(i % 7) + fl[size_t(i)], y = double(i / 7) + fl[size_t(6 * 7 + i)];
    outside += x < 0 || x > 6 || y < 0 || y > 5;
  }
  EXPECT_GT(outside, 10);
}

// Zero flow: the image itself, the image gradient is the output gradient, and the flow gradient is
// the forward difference (I[x+1] - I[x]), 0 on the last column / row, where both corners clamp to one.
TEST(Resample2d, ZeroFlowIsIdentityWithForwardDifferenceGradient) {
  const int64_t H = 4, W = 5;
  Tensor img = rnd({1, 2, H, W}, 7), gy = rnd({1, 2, H, W}, 8);
  Grads r = run2([](const Tensor& a, const Tensor& b) { return resample2d(a, b); }, img,
                 Tensor::zeros({1, 2, H, W}, DType::f64), gy);
  EXPECT_ALLCLOSE(r.y, img, 0, 0);
  EXPECT_ALLCLOSE(r.ga, gy, 0, 0);
  std::vector<double> I = img.to_vector<double>(), g = gy.to_vector<double>(), gf = r.gb.to_vector<double>();
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      double gu = 0, gv = 0;
      for (int64_t c = 0; c < 2; ++c) {
        auto at = [&](int64_t yy, int64_t xx) { return I[size_t((c * H + yy) * W + xx)]; };
        double go = g[size_t((c * H + y) * W + x)];
        if (x + 1 < W) gu += go * (at(y, x + 1) - at(y, x));
        if (y + 1 < H) gv += go * (at(y + 1, x) - at(y, x));
      }
      EXPECT_DOUBLE_EQ(gf[size_t(y * W + x)], gu) << y << "," << x;
      EXPECT_DOUBLE_EQ(gf[size_t(H * W + y * W + x)], gv) << y << "," << x;
    }
}

// Flows of +-4 px (many samples outside, where the flow gradient along that axis is 0). Flow entries
// whose own sample coordinate lies within 0.01 of an integer (a kink of bilinear interpolation, the
// clamp lines 0, W-1, H-1 included) are skipped.
TEST(Resample2d, Gradcheck) {
  const int64_t B = 2, C = 3, H = 5, W = 6, Hf = 4, Wf = 7;
  Tensor img = rnd({B, C, H, W}, 9).set_requires_grad();
  Tensor flow = rnd({B, 2, Hf, Wf}, 10, -4, 4).set_requires_grad();
  std::vector<double> fl = flow.to_vector<double>();
  vps::testing::GradcheckOptions o;
  o.max_entries = 64;
  o.skip = [&](size_t input, int64_t i) {
    if (input != 1) return false;
    int64_t x = i % Wf, y = (i / Wf) % Hf, axis = (i / (Wf * Hf)) % 2;
    double s = double(axis == 0 ? x : y) + fl[size_t(i)];
    return std::fabs(s - std::round(s)) < 0.01;
  };
  vps::testing::gradcheck([](const std::vector<Tensor>& v) { return resample2d(v[0], v[1]); }, {img, flow}, o);
}

TEST(Resample2d, BadInputNamesTheShapes) {
  Tensor img = rnd({2, 3, 5, 6}, 1);
  std::string m = error_of([&] { resample2d(img, rnd({2, 3, 5, 6}, 2)); });
  EXPECT_NE(m.find("flow (B, 2, Hf, Wf)"), std::string::npos) << m;
  EXPECT_NE(m.find("flow [2, 3, 5, 6]"), std::string::npos) << m;
  m = error_of([&] { resample2d(img, rnd({1, 2, 5, 6}, 2)); });
  EXPECT_NE(m.find("image [2, 3, 5, 6], flow [1, 2, 5, 6]"), std::string::npos) << m;
  m = error_of([&] { resample2d(rnd({3, 5, 6}, 1), rnd({1, 2, 5, 6}, 2)); });
  EXPECT_NE(m.find("image [3, 5, 6]"), std::string::npos) << m;
  m = error_of([&] { resample2d(img, rnd({2, 2, 5, 6}, 2).to(DType::f32)); });
  EXPECT_NE(m.find("float64 and float32"), std::string::npos) << m;
  m = error_of([&] { resample2d(img, Tensor::zeros({2, 2, 0, 6}, DType::f64)); });
  EXPECT_NE(m.find("empty"), std::string::npos) << m;
}

TEST(Resample2d, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  for (const char* c : {"resample_border", "resample_flow_size"}) {
    SCOPED_TRACE(c);
    vps::testing::ParityOptions po;
    po.atol = 1e-10;
    vps::testing::check_parity([](const std::vector<Tensor>& v) { return resample2d(v[0], v[1]); },
                               {fx(c, "img"), fx(c, "flow")}, po);
  }
}

// ---------------------------------------------------------------------------------------- channel_norm

// vector_norm's backward has no epsilon: ChannelNorm's g x / (n + 1e-9) differs by 1e-9 / n relative
// (n >= 0.1 here), and both give 0 at the zero vector.
TEST(ChannelNorm, MatchesVectorNormFixture) {
  Tensor x = fx("channel_norm", "x");
  Tensor xg = x.detach().set_requires_grad();
  Tensor y = channel_norm(xg);
  y.backward(fx("channel_norm", "gout"));
  EXPECT_ALLCLOSE(y, fx("channel_norm", "out"), 1e-14, 1e-13);
  EXPECT_ALLCLOSE(xg.grad(), fx("channel_norm", "gx"), 1e-13, 1e-7);
  std::vector<double> g = xg.grad().to_vector<double>();
  for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(g[size_t((c * 4 + 1) * 6 + 2)], 0.0);
  Tensor xf = x.to(DType::f32).set_requires_grad();
  Tensor yf = channel_norm(xf);
  yf.backward(fx("channel_norm", "gout").to(DType::f32));
  EXPECT_ALLCLOSE(yf, fx("channel_norm", "out"), 1e-6, 1e-6);
  EXPECT_ALLCLOSE(xf.grad(), fx("channel_norm", "gx"), 1e-5, 1e-5);
}

// The backward's epsilon: 1 / (norm + 1e-9) exactly, visible at a tiny norm.
TEST(ChannelNorm, BackwardEpsilonIsTheOriginals) {
  Tensor x = Tensor::from_vector<double>({3e-9, 4e-9}, {1, 2, 1, 1}).set_requires_grad();
  channel_norm(x).backward(Tensor::ones({1, 1, 1, 1}, DType::f64));
  std::vector<double> g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 3e-9 / (5e-9 + 1e-9), 1e-15);
  EXPECT_NEAR(g[1], 4e-9 / (5e-9 + 1e-9), 1e-15);
}

TEST(ChannelNorm, Gradcheck) {
  Tensor x = rnd({2, 4, 3, 5}, 11).set_requires_grad();
  vps::testing::gradcheck([](const std::vector<Tensor>& v) { return channel_norm(v[0]); }, {x});
}

TEST(ChannelNorm, BadInputNamesTheShape) {
  std::string m = error_of([] { channel_norm(rnd({4, 3, 5}, 1)); });
  EXPECT_NE(m.find("[4, 3, 5]"), std::string::npos) << m;
  m = error_of([] { channel_norm(rnd({1, 4, 3, 5}, 1).to(DType::i32)); });
  EXPECT_NE(m.find("int32 for [1, 4, 3, 5]"), std::string::npos) << m;
}

TEST(ChannelNorm, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  vps::testing::ParityOptions po;
  po.atol = 1e-10;
  vps::testing::check_parity([](const std::vector<Tensor>& v) { return channel_norm(v[0]); },
                             {fx("channel_norm", "x")}, po);
}
