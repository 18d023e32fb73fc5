// deform_conv2d (layers/deform_conv2d.h, layers/deform_conv2d.cu, layers/kernels/deform_im2col.h):
// torchvision golden fixtures (forward and the three gradients, tests/fixtures/dcn/make_dcn_fixtures.py),
// both offset-gradient rules on zero offsets where they differ, zero offsets against conv2d, a float64
// gradcheck, tiling, bad input, CPU-vs-CUDA parity; and the modules of layers/deform_conv_modules.cpp
// (DeformConv2d, DeformConvWithOffset): keys, zero-init behaviour, a float64 gradcheck through the
// offset branch, parity.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "layers/conv2d.h"
#include "layers/deform_conv2d.h"
#include "layers/kernels/deform_im2col.h"
#include "ops/ops.h"
#include "tests/conv_reference.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::error_of;
using vps::testing::fixture;
using vps::testing::rnd;

namespace {

struct Outputs {
  Tensor y, gx, goff, gw;
};

Outputs run(const Tensor& x, const Tensor& off, const Tensor& w, const Tensor& gy, const DeformConvParams& p) {
  Tensor xg = x.detach().set_requires_grad(), og = off.detach().set_requires_grad(),
         wg = w.detach().set_requires_grad();
  Tensor y = deform_conv2d(xg, og, wg, p);
  y.backward(gy);
  return {y.detach(), xg.grad(), og.grad(), wg.grad()};
}

struct Case {
  const char* name;
  Pair s, p, d;
  int64_t groups, dg;
};
const Case kCases[] = {{"s1_p1_d1", {1, 1}, {1, 1}, {1, 1}, 1, 1},        {"s2_p0_d1", {2, 2}, {0, 0}, {1, 1}, 1, 1},
                       {"s1_p2_d2", {1, 1}, {2, 2}, {2, 2}, 1, 1},        {"s2_p1_d2_dg2", {2, 1}, {1, 2}, {2, 1}, 1, 2},
                       {"groups2_dg2", {1, 1}, {1, 1}, {1, 1}, 2, 2}};

DeformConvParams params_of(const Case& c, DeformOffsetGrad rule = DeformOffsetGrad::mmdet) {
  DeformConvParams p;
  p.stride = c.s, p.padding = c.p, p.dilation = c.d, p.groups = c.groups, p.deformable_groups = c.dg;
  p.offset_grad = rule;
  return p;
}

Tensor fx(const std::string& c, const char* k) { return fixture("dcn", c + "_" + k); }

}  // namespace

// Continuous offsets (uniform +-3, many samples leave the image): both rules equal torchvision's values.
TEST(DeformConv2d, MatchesTorchvisionFixtures) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    for (DeformOffsetGrad rule : {DeformOffsetGrad::mmdet, DeformOffsetGrad::torchvision}) {
      Outputs o = run(fx(c.name, "x"), fx(c.name, "off"), fx(c.name, "w"), fx(c.name, "gy"), params_of(c, rule));
      EXPECT_ALLCLOSE(o.y, fx(c.name, "y"), 1e-11, 1e-11);
      EXPECT_ALLCLOSE(o.gx, fx(c.name, "gx"), 1e-11, 1e-11);
      EXPECT_ALLCLOSE(o.goff, fx(c.name, "goff"), 1e-11, 1e-11);
      EXPECT_ALLCLOSE(o.gw, fx(c.name, "gw"), 1e-11, 1e-11);
    }
    // float32 against the float64 fixture
    Outputs f = run(fx(c.name, "x").to(DType::f32), fx(c.name, "off").to(DType::f32), fx(c.name, "w").to(DType::f32),
                    fx(c.name, "gy").to(DType::f32), params_of(c));
    EXPECT_ALLCLOSE(f.y, fx(c.name, "y"), 1e-4, 1e-4);
    EXPECT_ALLCLOSE(f.gw, fx(c.name, "gw"), 1e-3, 1e-4);
  }
}

// Zero offsets, padding 1: the top taps of output row 0 sample exactly py = -1 and the left taps of
// column 0 px = -1. torchvision's rule reproduces its fixture; mmdet's gives 0 for both coordinates of
// those taps and equals the fixture everywhere else; forward, input and weight gradients agree.
TEST(DeformConv2d, OffsetGradientRulesDifferExactlyOnTheMinusOneBorder) {
  const std::string c = "zero_offsets_p1";
  DeformConvParams p;
  p.padding = {1, 1};
  p.offset_grad = DeformOffsetGrad::torchvision;
  Outputs tv = run(fx(c, "x"), fx(c, "off"), fx(c, "w"), fx(c, "gy"), p);
  EXPECT_ALLCLOSE(tv.y, fx(c, "y"), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(tv.goff, fx(c, "goff"), 1e-12, 1e-12);
  p.offset_grad = DeformOffsetGrad::mmdet;
  Outputs mm = run(fx(c, "x"), fx(c, "off"), fx(c, "w"), fx(c, "gy"), p);
  EXPECT_ALLCLOSE(mm.gx, fx(c, "gx"), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(mm.gw, fx(c, "gw"), 1e-12, 1e-12);
  // mmdet = the fixture with both channels of every tap whose point sits on the -1 border set to 0
  Tensor want = fx(c, "goff").contiguous();
  std::vector<double> v = want.to_vector<double>();
  const int64_t N = want.size(0), K = 9, Ho = want.size(2), Wo = want.size(3);
  int differing = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t ho = 0; ho < Ho; ++ho)
        for (int64_t wo = 0; wo < Wo; ++wo) {
          if (!((k / 3 == 0 && ho == 0) || (k % 3 == 0 && wo == 0))) continue;
          for (int64_t ch : {2 * k, 2 * k + 1}) {
            double& e = v[size_t(((n * 2 * K + ch) * Ho + ho) * Wo + wo)];
            differing += e != 0.0;
            e = 0.0;
          }
        }
  EXPECT_GT(differing, 20) << "the fixture must expose the difference between the rules";
  EXPECT_ALLCLOSE(mm.goff, Tensor::from_vector<double>(v, want.shape()), 1e-12, 1e-12);
}

TEST(DeformConv2d, ZeroOffsetsEqualConv2d) {
  struct Z {
    Shape x, w;
    Pair s, p, d;
    int64_t g;
  };
  for (const Z& z : {Z{{2, 4, 7, 6}, {6, 2, 3, 3}, {2, 1}, {1, 2}, {1, 2}, 2}, Z{{1, 3, 5, 5}, {4, 3, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1}}) {
    Tensor x = rnd(z.x, 1), w = rnd(z.w, 2);
    Tensor want = vps::testing::naive_conv2d(x, w, Tensor(), z.s, z.p, z.d, z.g);
    Tensor off = Tensor::zeros({z.x[0], 2 * z.w[2] * z.w[3], want.size(2), want.size(3)}, DType::f64);
    DeformConvParams p;
    p.stride = z.s, p.padding = z.p, p.dilation = z.d, p.groups = z.g;
    Tensor gy = rnd(want.shape(), 3);
    Outputs o = run(x, off, w, gy, p);
    EXPECT_ALLCLOSE(o.y, want, 1e-12, 1e-12);
    Tensor xg = x.detach().set_requires_grad(), wg = w.detach().set_requires_grad();
    conv2d(xg, wg, Tensor(), z.s, z.p, z.d, z.g).backward(gy);
    EXPECT_ALLCLOSE(o.gx, xg.grad(), 1e-12, 1e-12);
    EXPECT_ALLCLOSE(o.gw, wg.grad(), 1e-12, 1e-12);
  }
}

// Offsets = integer + a fraction in [0.2, 0.8]: every sample coordinate stays 0.2 away from the kinks
// of bilinear interpolation (integers, hence also -1 and H), where finite differences would fail.
TEST(DeformConv2d, Gradcheck) {
  Tensor x = rnd({1, 4, 5, 6}, 4).set_requires_grad();
  Tensor w = rnd({4, 2, 3, 3}, 5).set_requires_grad();
  Tensor whole = mul(rnd({1, 2 * 2 * 9, 3, 4}, 6), 2.5).detach();
  std::vector<double> iv = whole.to_vector<double>(), fr = rnd(whole.shape(), 7, 0.2, 0.8).to_vector<double>();
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = std::round(iv[i]) + fr[i];
  Tensor off = Tensor::from_vector<double>(iv, whole.shape()).set_requires_grad();
  DeformConvParams p;
  p.stride = {2, 2}, p.padding = {1, 2}, p.dilation = {1, 1}, p.groups = 2, p.deformable_groups = 2;
  vps::testing::GradcheckOptions o;
  o.max_entries = 64;
  vps::testing::gradcheck([&](const std::vector<Tensor>& v) { return deform_conv2d(v[0], v[1], v[2], p); },
                          {x, off, w}, o);
}

// Tiles of one output row (a 1 KiB column budget) give the results of one tile per image.
TEST(DeformConv2d, TilingDoesNotChangeResults) {
  const Case& c = kCases[3];
  DeformConvParams p = params_of(c), small = p;
  small.column_budget_kb = 1;
  Outputs a = run(fx(c.name, "x"), fx(c.name, "off"), fx(c.name, "w"), fx(c.name, "gy"), p);
  Outputs b = run(fx(c.name, "x"), fx(c.name, "off"), fx(c.name, "w"), fx(c.name, "gy"), small);
  // OpenBLAS may round a narrower GEMM differently (edge kernels); the weight gradient sums the tiles
  EXPECT_ALLCLOSE(a.y, b.y, 1e-13, 1e-13);
  EXPECT_ALLCLOSE(a.goff, b.goff, 1e-13, 1e-13);
  EXPECT_ALLCLOSE(a.gx, b.gx, 1e-13, 1e-13);
  EXPECT_ALLCLOSE(a.gw, b.gw, 1e-13, 1e-13);
}

TEST(DeformConv2d, NonContiguousInputs) {
  const Case& c = kCases[0];
  Tensor x = fx(c.name, "x"), off = fx(c.name, "off");
  Tensor xt = contiguous(transpose(x, 2, 3)).transpose(2, 3);  // same values, permuted strides
  ASSERT_FALSE(xt.is_contiguous());
  Outputs o = run(xt, off, fx(c.name, "w"), fx(c.name, "gy"), params_of(c));
  EXPECT_ALLCLOSE(o.y, fx(c.name, "y"), 1e-11, 1e-11);
}

// The CUDA decompositions of the shared bodies (a thread per entry, atomic col2im, a transpose per
// entry), run here one item at a time, give the CPU decompositions' results bit for bit: each entry
// sums the same terms in the same (position, tap, corner) order. Weight groups of 6 channels and
// deformable groups of 4 make runs of 2 channels; the col2im block of 5 cuts runs.
TEST(DeformConv2d, CudaDecompositionsOfTheBodiesMatchTheCpuOnes) {
  DeformGeom g;
  g.C = 12, g.H = 5, g.W = 6, g.kh = 3, g.kw = 3, g.ph = 1, g.pw = 1, g.Ho = 5, g.Wo = 6, g.dg = 3, g.groups = 2;
  ASSERT_EQ(g.run(), 2);
  const int64_t K = g.K(), HW = g.H * g.W, L = g.Ho * g.Wo, CK = g.C * K;
  Tensor x = rnd({g.C, HW}, 1), off = mul(rnd({2 * g.dg * K, L}, 2), 3.0).contiguous(), gcol = rnd({L, CK}, 3);
  auto all = [](const auto& body) {
    for (int64_t i = 0; i < body.count(); ++i) body(i);
  };
  std::vector<double> xT(HW * g.C), xT1(HW * g.C), back(HW * g.C);
  all(DeformTransposeBody<double, 16>{x.data<double>(), xT.data(), HW, g.C});
  all(DeformTransposeBody<double, 0>{x.data<double>(), xT1.data(), HW, g.C});
  EXPECT_EQ(xT, xT1);
  all(DeformTransposeBody<double, 0>{xT.data(), back.data(), g.C, HW});
  EXPECT_EQ(back, x.to_vector<double>());
  std::vector<DeformTap<double>> taps(size_t(L * g.dg * K));
  all(DeformTapTableBody<double>{g, off.data<double>(), taps.data(), 0, L});
  std::vector<double> zero(size_t(g.C), 0.0), cpu(size_t(L * CK)), cuda(size_t(L * CK));
  all(DeformIm2colBody<double>{g, taps.data(), xT.data(), zero.data(), cpu.data(), L, g.run()});
  all(DeformIm2colBody<double>{g, taps.data(), xT.data(), zero.data(), cuda.data(), L, 1});
  EXPECT_EQ(cpu, cuda);
  int64_t nonzero = 0;
  for (double v : cpu) nonzero += v != 0.0;
  EXPECT_GT(nonzero, L * CK / 2);  // the offsets (+-3) leave most samples inside the image
  std::vector<double> gx_cpu(size_t(HW * g.C), 0.0), gx_cuda(size_t(HW * g.C), 0.0);
  all(DeformCol2imBody<double, false>{g, taps.data(), gcol.data<double>(), gx_cpu.data(), L, 5});
  all(DeformCol2imBody<double, true>{g, taps.data(), gcol.data<double>(), gx_cuda.data(), L, 1});
  EXPECT_EQ(gx_cpu, gx_cuda);
}

TEST(DeformConv2d, BadInputNamesTheShapes) {
  Tensor x = rnd({1, 4, 5, 5}, 1), w = rnd({2, 4, 3, 3}, 2);
  std::string m = error_of([&] { deform_conv2d(x, rnd({1, 17, 3, 3}, 3), w); });
  EXPECT_NE(m.find("offset must have shape [1, 18, 3, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 17, 3, 3]"), std::string::npos) << m;
  DeformConvParams p;
  p.deformable_groups = 3;
  m = error_of([&] { deform_conv2d(x, rnd({1, 54, 3, 3}, 3), w, p); });
  EXPECT_NE(m.find("deformable_groups=3"), std::string::npos) << m;
  m = error_of([&] { deform_conv2d(x.to(DType::f32), rnd({1, 18, 3, 3}, 3), w); });
  EXPECT_NE(m.find("float dtype"), std::string::npos) << m;
  m = error_of([&] { deform_conv2d(rnd({1, 4, 2, 2}, 1), rnd({1, 18, 1, 1}, 3), w); });
  EXPECT_NE(m.find("larger than padded input"), std::string::npos) << m;
}

TEST(DeformConv2d, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  for (const Case& c : kCases) {
    DeformConvParams p = params_of(c);
    vps::testing::ParityOptions o;
    o.atol = 1e-9;
    vps::testing::check_parity([&](const std::vector<Tensor>& v) { return deform_conv2d(v[0], v[1], v[2], p); },
                               {fx(c.name, "x"), fx(c.name, "off"), fx(c.name, "w")}, o);
  }
}

// VPSNet's keys; conv_offset starts at zero, so the module starts as a plain convolution.
TEST(DeformConv2d, DeformConvWithOffsetModule) {
  Generator gen(3);
  nn::DeformConvWithOffset m(nn::ConvOptions::square(8, 6, 3, 1, 1, false, DType::f64), 1, gen);
  auto sd = m.state_dict();
  ASSERT_EQ(sd.size(), 3u);
  EXPECT_EQ(sd[0].first, "conv_offset.weight");
  EXPECT_EQ(sd[0].second.shape(), (Shape{18, 8, 3, 3}));
  EXPECT_EQ(sd[1].first, "conv_offset.bias");
  EXPECT_EQ(sd[2].first, "conv.weight");
  EXPECT_EQ(sd[2].second.shape(), (Shape{6, 8, 3, 3}));
  Tensor x = rnd({1, 8, 6, 7}, 4);
  EXPECT_ALLCLOSE(m.forward(x), vps::testing::naive_conv2d(x, m.conv->weight, Tensor(), {1, 1}, {1, 1}, {1, 1}, 1),
                  1e-12, 1e-12);
  EXPECT_NE(error_of([&] { nn::DeformConv2d(nn::ConvOptions::square(8, 6, 3, 1, 1, true), 1, gen); }).find("no bias"),
            std::string::npos);
}

// The module end to end: gradients reach the input, conv_offset's weight and bias (through the
// offsets) and the DCN weight. conv_offset gets random weights first (its zero init would put every
// sample on an integer point, a kink of the bilinear interpolation).
namespace {
struct ModuleCase {
  Generator gen{5};
  nn::DeformConvWithOffset m{nn::ConvOptions::square(4, 3, 3, 1, 1, false, DType::f64), 2, gen};
  std::vector<Tensor> inputs;
  ModuleCase() {
    m.conv_offset->weight = mul(rnd(m.conv_offset->weight.shape(), 21), 0.3).detach().set_requires_grad();
    m.conv_offset->bias = mul(rnd(m.conv_offset->bias.shape(), 22), 0.7).detach().set_requires_grad();
    inputs = {rnd({1, 4, 5, 6}, 23).set_requires_grad(), m.conv_offset->weight, m.conv_offset->bias, m.conv->weight};
  }
  Tensor run(const std::vector<Tensor>& v) {  // the module with v's parameters
    m.conv_offset->weight = v[1], m.conv_offset->bias = v[2], m.conv->weight = v[3];
    return m.forward(v[0]);
  }
};
}  // namespace

TEST(DeformConv2d, DeformConvWithOffsetGradcheck) {
  ModuleCase c;
  vps::testing::gradcheck([&](const std::vector<Tensor>& v) { return c.run(v); }, c.inputs);
}

TEST(DeformConv2d, DeformConvWithOffsetCpuCudaParity) {
  VPS_REQUIRE_CUDA();
  ModuleCase c;
  std::vector<Tensor> in;
  for (auto& t : c.inputs) in.push_back(t.detach());
  vps::testing::check_parity([&](const std::vector<Tensor>& v) { return c.run(v); }, in);
}
