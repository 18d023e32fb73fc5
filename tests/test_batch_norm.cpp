#include <gtest/gtest.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "layers/batch_norm.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::fixture;
using vps::testing::rnd;

namespace {

// Plain reference: x (N, C, S) f64 with batch or given statistics.
std::vector<double> naive_bn(const Tensor& x, const Tensor& w, const Tensor& b, const std::vector<double>* mean,
                             const std::vector<double>* var, double eps) {
  auto xv = x.contiguous().to_vector<double>();
  auto wv = w.to_vector<double>(), bv = b.to_vector<double>();
  int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  std::vector<double> y(xv.size());
  for (int64_t c = 0; c < C; ++c) {
    double m = 0, v = 0;
    if (mean) {
      m = (*mean)[c];
      v = (*var)[c];
    } else {
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < S; ++k) m += xv[(n * C + c) * S + k];
      m /= double(N * S);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < S; ++k) v += std::pow(xv[(n * C + c) * S + k] - m, 2);
      v /= double(N * S);
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < S; ++k) {
        int64_t i = (n * C + c) * S + k;
        y[i] = (xv[i] - m) / std::sqrt(v + eps) * wv[c] + bv[c];
      }
  }
  return y;
}

Tensor vec(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector<double>(v, s); }

}  // namespace

TEST(BatchNorm, TrainMatchesNaiveAndUpdatesRunningStats) {
  Tensor x = rnd({2, 3, 4}, 1), w = rnd({3}, 2), b = rnd({3}, 3);
  Tensor rm = Tensor::zeros({3}, DType::f64), rv = Tensor::ones({3}, DType::f64);
  Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
  EXPECT_ALLCLOSE(y, vec(naive_bn(x, w, b, nullptr, nullptr, 1e-5), x.shape()), 1e-12, 1e-10);
  // running stats: 0.9 * old + 0.1 * batch (unbiased variance)
  auto xv = x.to_vector<double>();
  for (int c = 0; c < 3; ++c) {
    double m = 0, v = 0;
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 4; ++k) m += xv[(n * 3 + c) * 4 + k] / 8;
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 4; ++k) v += std::pow(xv[(n * 3 + c) * 4 + k] - m, 2) / 7;
    EXPECT_NEAR(rm.to_vector<double>()[c], 0.1 * m, 1e-12);
    EXPECT_NEAR(rv.to_vector<double>()[c], 0.9 + 0.1 * v, 1e-12);
  }
}

TEST(BatchNorm, EvalUsesRunningStats) {
  Tensor x = rnd({2, 3, 2, 2}, 4), w = rnd({3}, 5), b = rnd({3}, 6);
  Tensor rm = rnd({3}, 7), rv = rnd({3}, 8, 0.5, 2);
  Tensor rm0 = rm.clone();
  Tensor y = batch_norm(x, w, b, rm, rv, false);
  auto m = rm.to_vector<double>(), v = rv.to_vector<double>();
  EXPECT_ALLCLOSE(y, vec(naive_bn(x, w, b, &m, &v, 1e-5), x.shape()), 1e-12, 1e-10);
  EXPECT_ALLCLOSE(rm, rm0, 0, 0);
}

TEST(BatchNorm, GoldenFixturesBothModes) {
  for (std::string mode : {"bn_train", "bn_eval"}) {
    auto f = [&](const char* k) { return fixture("nn", mode + "_" + k); };
    Tensor x = f("x").set_requires_grad(), w = f("w").set_requires_grad(), b = f("b").set_requires_grad();
    Tensor rm = f("rm"), rv = f("rv");
    Tensor y = batch_norm(x, w, b, rm, rv, mode == "bn_train", 0.1, 1e-5);
    y.backward(f("dy"));
    EXPECT_ALLCLOSE(y, f("y"), 1e-10, 1e-8) << mode;
    EXPECT_ALLCLOSE(rm, f("rm_after"), 1e-12, 1e-10) << mode;
    EXPECT_ALLCLOSE(rv, f("rv_after"), 1e-12, 1e-10) << mode;
    EXPECT_ALLCLOSE(x.grad(), f("dx"), 1e-10, 1e-8) << mode;
    EXPECT_ALLCLOSE(w.grad(), f("dw"), 1e-10, 1e-8) << mode;
    EXPECT_ALLCLOSE(b.grad(), f("db"), 1e-10, 1e-8) << mode;
  }
}

TEST(BatchNorm, GradcheckBothModes) {
  Tensor x = rnd({3, 2, 2, 2}, 9).set_requires_grad(), w = rnd({2}, 10).set_requires_grad();
  Tensor b = rnd({2}, 11).set_requires_grad();
  Tensor rm = rnd({2}, 12), rv = rnd({2}, 13, 0.5, 1.5);
  for (bool training : {true, false}) {
    vps::testing::gradcheck(
        [&](const std::vector<Tensor>& in) {
          Tensor m = rm.clone(), v = rv.clone();  // running stats are not differentiated
          return batch_norm(in[0], in[1], in[2], m, v, training);
        },
        {x, w, b});
  }
  // No affine parameters, no running stats.
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
                          {x});
}

TEST(BatchNorm, NonContiguousInput) {
  Tensor base = rnd({3, 2, 4}, 14);
  Tensor x = base.permute({2, 1, 0});  // (4, 2, 3) non-contiguous
  ASSERT_FALSE(x.is_contiguous());
  Tensor w = rnd({2}, 15), b = rnd({2}, 16);
  Tensor y = batch_norm(x, w, b, Tensor(), Tensor(), true);
  EXPECT_ALLCLOSE(y, batch_norm(x.contiguous(), w, b, Tensor(), Tensor(), true), 0, 0);
}

TEST(BatchNorm, BadInput) {
  Tensor x = rnd({2, 3, 4}, 17);
  try {
    batch_norm(x, rnd({4}, 1), Tensor(), Tensor(), Tensor(), true);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("batch_norm"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3, 4]"), std::string::npos) << m;
  }
  EXPECT_THROW(batch_norm(x, rnd({3}, 1).to(DType::f32), Tensor(), Tensor(), Tensor(), true), Error);
  EXPECT_THROW(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), Error);  // eval needs stats
  EXPECT_THROW(batch_norm(rnd({1, 3}, 2), Tensor(), Tensor(), Tensor(), Tensor(), true), Error);
  EXPECT_THROW(batch_norm(rnd({3}, 2), Tensor(), Tensor(), Tensor(), Tensor(), true), Error);
}

TEST(BatchNorm, FoldIntoConvMatchesConvThenBn) {
  // Naive 3x3 conv, padding 1, on (1, 2, 4, 4) with 3 output channels.
  Tensor x = rnd({1, 2, 4, 4}, 20), cw = rnd({3, 2, 3, 3}, 21), cb = rnd({3}, 22);
  Tensor g = rnd({3}, 23), be = rnd({3}, 24), rm = rnd({3}, 25), rv = rnd({3}, 26, 0.5, 2);
  auto conv = [&](const Tensor& w, const Tensor& bias) {
    auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = bias.to_vector<double>();
    std::vector<double> y(3 * 16);
    for (int o = 0; o < 3; ++o)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          double s = bv[o];
          for (int c = 0; c < 2; ++c)
            for (int ki = 0; ki < 3; ++ki)
              for (int kj = 0; kj < 3; ++kj) {
                int ii = i + ki - 1, jj = j + kj - 1;
                if (ii >= 0 && ii < 4 && jj >= 0 && jj < 4) s += xv[(c * 4 + ii) * 4 + jj] * wv[((o * 2 + c) * 3 + ki) * 3 + kj];
              }
          y[(o * 4 + i) * 4 + j] = s;
        }
    return vec(y, {1, 3, 4, 4});
  };
  Tensor ref = batch_norm(conv(cw, cb), g, be, rm, rv, false);
  auto folded = fold_batch_norm(cw, cb, g, be, rm, rv);
  EXPECT_ALLCLOSE(conv(folded.first, folded.second), ref, 1e-12, 1e-10);
  auto nob = fold_batch_norm(cw, Tensor(), g, be, rm, rv);
  EXPECT_ALLCLOSE(conv(nob.first, nob.second), batch_norm(conv(cw, Tensor::zeros({3}, DType::f64)), g, be, rm, rv, false),
                  1e-12, 1e-10);
  EXPECT_THROW(fold_batch_norm(cw, cb, rnd({2}, 1), be, rm, rv), Error);
}

TEST(BatchNorm, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor x = rnd({3, 4, 5, 6}, 30), w = rnd({4}, 31), b = rnd({4}, 32);
  Tensor rm = rnd({4}, 33), rv = rnd({4}, 34, 0.5, 1.5);
  for (bool training : {true, false})
    vps::testing::check_parity(
        [&](const std::vector<Tensor>& in) {
          Tensor m = rm.to(in[0].device()), v = rv.to(in[0].device());
          return std::vector<Tensor>{batch_norm(in[0], in[1], in[2], m, v, training), m, v};
        },
        {x, w, b});
}

TEST(BatchNorm, LongRowsUseChunkedReductions) {
  // N*H*W = 1600 per channel: the per-channel sums run in several chunks.
  Tensor x = rnd({4, 3, 20, 20}, 40).set_requires_grad(), w = rnd({3}, 41).set_requires_grad();
  Tensor b = rnd({3}, 42).set_requires_grad();
  Tensor ref = vec(naive_bn(x.detach(), w.detach(), b.detach(), nullptr, nullptr, 1e-5), x.shape());
  EXPECT_ALLCLOSE(batch_norm(x, w, b, Tensor(), Tensor(), true), ref, 1e-12, 1e-10);
  vps::testing::GradcheckOptions o;
  o.max_entries = 16;
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); },
                          {x, w, b}, o);
  // Frozen (eval, weight/bias without grad): dx = dy * w / sqrt(rv + eps).
  Tensor rm = rnd({3}, 43), rv = rnd({3}, 44, 0.5, 1.5), wf = w.detach(), bf = b.detach();
  Tensor xf = x.detach().clone().set_requires_grad();
  Tensor dy = rnd({4, 3, 20, 20}, 45);
  batch_norm(xf, wf, bf, rm, rv, false).backward(dy);
  Tensor scale = reshape(div(wf, sqrt(add(rv, 1e-5))), {1, 3, 1, 1});
  EXPECT_ALLCLOSE(xf.grad(), mul(dy, scale), 1e-12, 1e-10);
}
