// The bf16 inference path (layers/bf16_inference.h): the rounding, the bf16 GEMM against float64 on
// the same rounded values, each layer against its float32 form on inputs already rounded to bf16 (so
// only the summation order differs: tiles and indexing are checked to float32 round-off), the error on
// unrounded inputs with its bound, the same bits on 1 and 2 threads, refusals, and the error of each
// stage of the tiny VPSNet-Track. Skipped with a message where this build or CPU has no bf16 products.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "layers/bf16_inference.h"
#include "layers/conv2d.h"
#include "layers/deform_conv2d.h"
#include "models/registry.h"
#include "models/vps/vpsnet_track.h"
#include "ops/ops.h"
#include "tensor/bf16.h"
#include "tensor/blas.h"
#include "tests/expect_error.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::rnd;

#define REQUIRE_BF16()                                                         \
  do {                                                                         \
    std::string why = blas::bf16_gemm_unavailable();                           \
    if (!why.empty()) GTEST_SKIP() << "no bf16 products here: " << why;        \
  } while (0)

namespace {

Tensor rnd32(const Shape& s, uint64_t seed) { return rnd(s, seed).to(DType::f32); }
Tensor rounded(const Tensor& x) { return bf16_to_f32(to_bf16(x)); }  // x's values rounded to bf16

// ||a - b|| / ||b|| (Frobenius), in double.
double rel_error(const Tensor& a, const Tensor& b) {
  Tensor d = a.to(DType::f64) - b.to(DType::f64);
  double num = std::sqrt(sum(d * d).item_double()), den = std::sqrt(sum(b.to(DType::f64) * b.to(DType::f64)).item_double());
  return num / std::max(den, 1e-30);
}

ConvParams conv_params(Pair s, Pair p, Pair d, int64_t g, MatmulPrecision prec, int64_t tile_kb = 2048) {
  ConvParams c;
  c.stride = s, c.padding = p, c.dilation = d, c.groups = g, c.precision = prec, c.cpu_tile_kb = tile_kb;
  return c;
}

}  // namespace

TEST(Bf16, RoundsToNearestEven) {
  auto bits = [](float f) { return bf16(f).bits; };
  EXPECT_EQ(bits(1.0f), 0x3f80);
  EXPECT_EQ(bits(1.0f + 1.0f / 256), 0x3f80);                  // tie, even below
  EXPECT_EQ(bits(1.0f + 3.0f / 256), 0x3f82);                  // tie, even above
  EXPECT_EQ(bits(1.0f + 1.0f / 256 + 1.0f / 4096), 0x3f81);    // above the tie
  EXPECT_EQ(bits(-2.5f), 0xc020);
  EXPECT_EQ(bits(INFINITY), 0x7f80);
  EXPECT_EQ(bits(3.4e38f), 0x7f80);  // rounds up past the largest bf16 to infinity
  EXPECT_TRUE(std::isnan(bf16_to_float(bits(NAN))));
  Tensor x = rnd32({3, 1000}, 1), r = rounded(x);
  EXPECT_LE(max(abs(r - x) / abs(x)).item_double(), 1.0 / 256);  // half an ulp of 8 bits
  EXPECT_GT(max(abs(r - x)).item_double(), 0.0);
}

// The bf16 GEMM on bf16 values equals float64's product to float32 round-off: every transpose, a
// strided C, beta 0 and 1, a batch, and products large enough to be split into strips.
TEST(Bf16, GemmMatchesFloat64OnRoundedValues) {
  REQUIRE_BF16();
  struct Case { int64_t m, n, k, batch; bool ta, tb; float beta; };
  for (Case c : {Case{5, 7, 3, 1, false, false, 0.f}, Case{33, 17, 40, 2, true, false, 1.f},
                 Case{64, 300, 129, 1, false, true, 1.f}, Case{300, 200, 64, 1, true, true, 0.f},
                 Case{260, 130, 100, 3, false, false, 1.f}}) {
    Tensor a = rounded(rnd32({c.batch, c.ta ? c.k : c.m, c.ta ? c.m : c.k}, 2));
    Tensor b = rounded(rnd32({c.batch, c.tb ? c.n : c.k, c.tb ? c.k : c.n}, 3));
    Tensor c0 = rnd32({c.batch, c.m, c.n + 5}, 4);  // C with a row stride of n + 5
    Tensor out = c0.clone();
    Tensor ab = to_bf16(a), bb = to_bf16(b);
    blas::gemm_batched_bf16(c.ta, c.tb, c.m, c.n, c.k, ab.data<bf16>(), a.size(2), a.size(1) * a.size(2),
                            bb.data<bf16>(), b.size(2), b.size(1) * b.size(2), c.beta, out.data<float>(), c.n + 5,
                            c.m * (c.n + 5), c.batch);
    Tensor a64 = a.to(DType::f64), b64 = b.to(DType::f64);
    if (c.ta) a64 = a64.transpose(1, 2);
    if (c.tb) b64 = b64.transpose(1, 2);
    Tensor want = bmm(a64, b64) + double(c.beta) * c0.to(DType::f64).slice(2, 0, c.n);
    EXPECT_ALLCLOSE(out.slice(2, 0, c.n), want, 1e-4, 1e-5) << c.m << "x" << c.n << "x" << c.k;
    EXPECT_ALLCLOSE(out.slice(2, c.n, c.n + 5), c0.slice(2, c.n, c.n + 5), 0, 0) << "wrote outside C";
  }
}

// conv2d with bf16 products (oneDNN's convolution: layers/conv2d_dnnl.cpp, forward_cpu_bf16) against
// float32 on inputs already in bf16: every shape class, bias or not (the float32 side with one-row and
// default tiles). The path is CPU-only (oneDNN), so it has no CPU-vs-CUDA parity test.
TEST(Bf16, Conv2dMatchesFloat32OnRoundedInputs) {
  REQUIRE_BF16();
  autograd::NoGradGuard ng;
  struct Case { Shape x, w; Pair s, p, d; int64_t g; bool bias; };
  std::vector<Case> cases = {{{2, 8, 9, 7}, {16, 8, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true},   // pointwise
                             {{2, 8, 9, 7}, {16, 8, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true},   // 3x3
                             {{1, 6, 11, 13}, {8, 6, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, false}, // strided
                             {{1, 8, 10, 9}, {8, 2, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 4, true},   // grouped
                             {{1, 4, 12, 12}, {6, 4, 3, 3}, {1, 1}, {2, 2}, {2, 2}, 1, true},  // dilated
                             {{1, 3, 20, 22}, {8, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, 1, false}, // stem-like
                             {{1, 64, 3, 3}, {512, 64, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true},  // blocks of O
                             {{2, 64, 17, 19}, {512, 64, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true},  // 1x1 tiles
                             {{1, 16, 11, 13}, {24, 16, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 1, true}};  // 1x1 strided
  for (const Case& c : cases)
    for (int64_t kb : {int64_t(1), int64_t(2048)}) {
      Tensor x = rounded(rnd32(c.x, 5)), w = rounded(rnd32(c.w, 6)), b = c.bias ? rnd32({c.w[0]}, 7) : Tensor();
      Tensor y = conv2d(x, w, b, conv_params(c.s, c.p, c.d, c.g, MatmulPrecision::bf16, kb));
      Tensor want = conv2d(x, w, b, conv_params(c.s, c.p, c.d, c.g, MatmulPrecision::f32, kb));
      EXPECT_ALLCLOSE(y, want, 1e-5, 1e-5) << shape_str(c.x) << " * " << shape_str(c.w) << " tile " << kb;
    }
}

// The fused inference epilogue (ConvEpilogue, layers/conv2d_epilogue.cpp: scale, bias, residual, ReLU;
// the 1x1 path in layers/conv2d_pointwise_bf16.cpp) with bf16 products against
// the float32 composition on rounded inputs: the 1x1 path applies it as it copies the products out,
// oneDNN's path takes the scale folded into the weight (powers of two here, so the folded weight is still
// exact in bf16) and ReLU as a post-op (with a residual, the sum and ReLU after it). The float32
// epilogue is the composition itself; bad epilogue shapes are named.
TEST(Bf16, Conv2dEpilogueMatchesComposition) {
  REQUIRE_BF16();
  autograd::NoGradGuard ng;
  struct Case { Shape x, w; Pair s, p; };
  std::vector<Case> cases = {{{2, 32, 9, 11}, {48, 32, 1, 1}, {1, 1}, {0, 0}},   // 1x1
                             {{1, 16, 12, 10}, {32, 16, 1, 1}, {2, 2}, {0, 0}},  // 1x1 strided
                             {{2, 16, 9, 11}, {32, 16, 3, 3}, {1, 1}, {1, 1}}};  // oneDNN
  for (const Case& c : cases)
    for (int variant = 0; variant < 3; ++variant) {  // relu only, scale + relu, scale + residual + relu
      const int64_t O = c.w[0];
      Tensor x = rounded(rnd32(c.x, 31)), w = rounded(rnd32(c.w, 32)), b = rnd32({O}, 33);
      std::vector<float> sv;
      for (int64_t o = 0; o < O; ++o) sv.push_back(float(1 << (o % 3)) * (o % 2 ? 0.5f : 1.f));
      ConvEpilogue e;
      e.relu = true;
      if (variant >= 1) e.scale = Tensor::from_vector<float>(sv, {O});
      ConvParams p32 = conv_params(c.s, c.p, {1, 1}, 1, MatmulPrecision::f32), p16 = p32;
      p16.precision = MatmulPrecision::bf16;
      Tensor plain = conv2d(x, w, Tensor(), p32);
      if (variant == 2) e.residual = rnd32(plain.shape(), 34);
      Tensor want = plain;
      if (e.scale.defined()) want = mul(want, e.scale.reshape({1, O, 1, 1}));
      want = add(want, b.reshape({1, O, 1, 1}));
      if (e.residual.defined()) want = add(want, e.residual);
      want = relu(want);
      SCOPED_TRACE(shape_str(c.w) + " variant " + std::to_string(variant));
      EXPECT_ALLCLOSE(conv2d(x, w, b, p16, e), want, 1e-5, 1e-5);
      EXPECT_ALLCLOSE(conv2d(x, w, b, p32, e), want, 0, 0);
    }
  Tensor x = rnd32({1, 4, 5, 5}, 35), w = rnd32({6, 4, 1, 1}, 36);
  ConvParams p = conv_params({1, 1}, {0, 0}, {1, 1}, 1, MatmulPrecision::bf16);
  ConvEpilogue bad_scale;
  bad_scale.scale = rnd32({5}, 37);
  vps::testing::expect_error([&] { conv2d(x, w, Tensor(), p, bad_scale); }, {"conv2d", "scale", "[5]", "6"});
  ConvEpilogue bad_res;
  bad_res.residual = rnd32({1, 6, 4, 5}, 38);
  vps::testing::expect_error([&] { conv2d(x, w, Tensor(), p, bad_res); }, {"conv2d", "residual", "[1, 6, 4, 5]"});
}

// On unrounded inputs the error is the rounding's: measured ~0.3-0.4% of the output's norm for sums of
// 72-576 products of values in [-1, 1]; bound 1% (float32 on these sizes: ~1e-7).
TEST(Bf16, Conv2dErrorOnFloat32Inputs) {
  REQUIRE_BF16();
  autograd::NoGradGuard ng;
  Tensor x = rnd32({1, 64, 20, 20}, 8), w = rnd32({32, 64, 3, 3}, 9), b = rnd32({32}, 10);
  Tensor y = conv2d(x, w, b, conv_params({1, 1}, {1, 1}, {1, 1}, 1, MatmulPrecision::bf16));
  Tensor want = conv2d(x.to(DType::f64), w.to(DType::f64), b.to(DType::f64), {1, 1}, {1, 1});
  double e = rel_error(y, want);
  EXPECT_LT(e, 0.01);
  EXPECT_GT(e, 1e-4);  // the products did run in bf16
}

// The deformable convolution's products in bf16: its columns are bilinear samples rounded to bf16 as
// they are stored (layers/deform_im2col_bf16.cpp, the CPU's vector clone), not bf16 values themselves,
// so the check is the error bound against float32 (and that it rounds at all).
TEST(Bf16, DeformConv2dErrorAgainstFloat32) {
  REQUIRE_BF16();
  autograd::NoGradGuard ng;
  for (int64_t groups : {1, 2}) {
    Tensor x = rnd32({2, 8, 9, 11}, 11), w = rnd32({6, 8 / groups, 3, 3}, 12);
    Tensor off = rnd({2, 18, 9, 11}, 13, -2, 2).to(DType::f32);
    DeformConvParams p;
    p.padding = {1, 1}, p.groups = groups;
    for (int64_t budget : {int64_t(1), int64_t(0)}) {  // 1 KiB: a tile per 16 positions
      p.column_budget_kb = budget;
      Tensor want = deform_conv2d(x, off, w, p);
      p.precision = MatmulPrecision::bf16;
      Tensor y = deform_conv2d(x, off, w, p);
      p.precision = MatmulPrecision::f32;
      double e = rel_error(y, want);
      EXPECT_LT(e, 0.01) << "groups " << groups;
      EXPECT_GT(e, 1e-4) << "groups " << groups;
    }
  }
}

TEST(Bf16, LinearMatchesFloat32OnRoundedInputs) {
  REQUIRE_BF16();
  autograd::NoGradGuard ng;
  Tensor x = rounded(rnd32({3, 70, 200}, 14)), w = rounded(rnd32({90, 200}, 15)), b = rnd32({90}, 16);
  EXPECT_ALLCLOSE(linear_bf16(x, w, b), linear(x, w, b), 1e-5, 1e-5);
  EXPECT_ALLCLOSE(linear_bf16(x, w), linear(x, w), 1e-5, 1e-5);
  Tensor xu = rnd32({40, 300}, 17), wu = rnd32({50, 300}, 18);
  double e = rel_error(linear_bf16(xu, wu), linear(xu.to(DType::f64), wu.to(DType::f64)));
  EXPECT_LT(e, 0.01);
  EXPECT_GT(e, 1e-4);
}

// Our tiles are fixed by the shape, each product on one thread; oneDNN's convolution splits images,
// channel blocks and rows, never a sum: the same bits on 1, 2 and 3 threads.
TEST(Bf16, SameBitsOnAnyThreadCount) {
  REQUIRE_BF16();
  autograd::NoGradGuard ng;
  Tensor x = rnd32({1, 32, 40, 36}, 19), w = rnd32({64, 32, 3, 3}, 20), off = rnd32({1, 18, 40, 36}, 21);
  Tensor xl = rnd32({600, 256}, 22), wl = rnd32({300, 256}, 23), w1 = rnd32({512, 32, 1, 1}, 24);
  DeformConvParams dp;
  dp.padding = {1, 1}, dp.precision = MatmulPrecision::bf16;
  ConvEpilogue e;
  e.relu = true, e.scale = rnd32({512}, 25);
  auto run = [&] {  // the 1x1 (layers/conv2d_pointwise_bf16.cpp) in 8 tiles of pixels, with an epilogue
    return std::vector<Tensor>{conv2d(x, w, Tensor(), conv_params({1, 1}, {1, 1}, {1, 1}, 1, MatmulPrecision::bf16)),
                               conv2d(x, w1, Tensor(), conv_params({1, 1}, {0, 0}, {1, 1}, 1, MatmulPrecision::bf16), e),
                               deform_conv2d(x, off, w, dp), linear_bf16(xl, wl)};
  };
  int prev = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<Tensor> one = run();
  omp_set_num_threads(2);
  std::vector<Tensor> two = run();
  omp_set_num_threads(3);
  std::vector<Tensor> three = run();
  omp_set_num_threads(prev);
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_ALLCLOSE(one[i], two[i], 0, 0) << "output " << i;
    EXPECT_ALLCLOSE(one[i], three[i], 0, 0) << "output " << i;
  }
}

// Refused where it cannot run; an empty-channel input runs.
TEST(Bf16, RefusesTrainingAndOtherDtypes) {
  REQUIRE_BF16();
  ConvParams p = conv_params({1, 1}, {0, 0}, {1, 1}, 1, MatmulPrecision::bf16);
  Tensor x = rnd32({1, 4, 5, 5}, 24), w = rnd32({4, 4, 1, 1}, 25).set_requires_grad(true);
  vps::testing::expect_error([&] { conv2d(x, w, Tensor(), p); }, {"conv2d", "inference", "gradient"});
  vps::testing::expect_error([&] { conv2d(x.to(DType::f64), w.detach().to(DType::f64), Tensor(), p); },
                        {"conv2d", "float32", "float64"});
  vps::testing::expect_error([&] { linear_bf16(rnd32({2, 4}, 26), rnd32({3, 5}, 27)); }, {"linear", "[2, 4]", "[3, 5]"});
  autograd::NoGradGuard ng;
  EXPECT_NO_THROW(conv2d(x, w, Tensor(), p));  // without autograd the same call runs
  // no input channels: the bias alone, as in float32 (oneDNN refuses such a convolution)
  Tensor b = rnd32({4}, 28);
  Tensor y = conv2d(Tensor::zeros({1, 0, 5, 5}, DType::f32), Tensor::zeros({4, 0, 1, 1}, DType::f32), b, p);
  EXPECT_ALLCLOSE(y, b.reshape({1, 4, 1, 1}).expand({1, 4, 5, 5}), 0, 0);
}

// Module::set_matmul_precision reaches every product layer of the tiny VPSNet-Track; each stage's own
// error against float32 (its input in float32; random init, a 64x96 N(0,1) image), measured
// 2026-12-07: backbone+FPN 0.6-1.1% per level, the semantic head 2.2%. Bounds 3% / 5%. (Fed the
// bf16 features, this random-init head's GroupNorms amplify their 1% to 11%: docs/conv.md.)
TEST(Bf16, TinyVPSNetTrackErrorPerStage) {
  REQUIRE_BF16();
  auto m = std::dynamic_pointer_cast<models::VPSNetTrack>(models::build_model_from_file("configs/vpsnet_track_tiny.json"));
  ASSERT_TRUE(m);
  m->eval();
  autograd::NoGradGuard ng;
  Generator gen(3);
  Tensor img = randn({1, 3, 64, 96}, gen, DType::f32);
  std::vector<Tensor> f32 = m->extract_feats(img);
  Tensor sem32 = m->panopticFPN->forward(f32).fcn_output;
  m->set_matmul_precision(MatmulPrecision::bf16);
  std::vector<Tensor> b16 = m->extract_feats(img);
  Tensor sem16 = m->panopticFPN->forward(f32).fcn_output;
  ASSERT_EQ(f32.size(), b16.size());
  for (size_t i = 0; i < f32.size(); ++i) {
    double e = rel_error(b16[i], f32[i]);
    EXPECT_LT(e, 0.03) << "FPN level " << i;
    EXPECT_GT(e, 1e-4) << "FPN level " << i;
    std::printf("[ bf16 ] tiny model, backbone+FPN level %zu: relative error %.4f\n", i, e);
  }
  double es = rel_error(sem16, sem32);
  std::printf("[ bf16 ] tiny model, semantic head on float32 features: relative error %.4f\n", es);
  EXPECT_LT(es, 0.05);
  EXPECT_GT(es, 1e-4);
  m->set_matmul_precision(MatmulPrecision::f32);
  EXPECT_ALLCLOSE(m->extract_feats(img)[0], f32[0], 0, 0);  // back to float32, bit for bit
}
