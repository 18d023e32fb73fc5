// matmul (1-D, 2-D, batched with broadcasting), bmm, linear: forward against plain loops in f64 and
// f32, float64 gradient checks, transposed and non-contiguous operands, bad shapes, parity.
#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <string>

#include "ops/ops.h"
#include "tests/expect_error.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::expect_error;
using vps::testing::gradcheck;
using vps::testing::rnd;

namespace {

// Naive C[..., i, j] = sum_k A[..., i, k] B[..., k, j] on CPU f64 tensors of equal batch shape,
// contiguous result. Batch dims are walked through a flat index over the (shared) batch shape.
Tensor naive_bmm(const Tensor& a, const Tensor& b) {
  Tensor A = a.contiguous(), B = b.contiguous();
  int64_t n = A.size(-2), k = A.size(-1), m = B.size(-1), nb = A.numel() / std::max<int64_t>(1, n * k);
  Shape os = A.shape();
  os.back() = m;
  std::vector<double> pa = A.to_vector<double>(), pb = B.to_vector<double>(), c(size_t(nb * n * m), 0.0);
  for (int64_t t = 0; t < nb; ++t)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) s += pa[(t * n + i) * k + q] * pb[(t * k + q) * m + j];
        c[(t * n + i) * m + j] = s;
      }
  return Tensor::from_vector<double>(c, os);
}

}  // namespace

TEST(Matmul, TwoDAndTransposedAndStridedOperands) {
  Tensor a = rnd({3, 4}, 1), b = rnd({4, 5}, 2);
  EXPECT_ALLCLOSE(matmul(a, b), naive_bmm(a, b), 1e-12, 1e-12);
  Tensor at = rnd({4, 3}, 3).transpose(0, 1), bt = rnd({5, 4}, 4).transpose(0, 1);  // transposed views
  EXPECT_ALLCLOSE(matmul(at, bt), naive_bmm(at, bt), 1e-12, 1e-12);
  Tensor as = rnd({3, 8}, 5).slice(1, 0, 8, 2);  // column stride 2: copied before the GEMM
  EXPECT_ALLCLOSE(matmul(as, b), naive_bmm(as, b), 1e-12, 1e-12);
  Tensor af = a.to(DType::f32), bf = bt.to(DType::f32);
  EXPECT_EQ(matmul(af, bf).dtype(), DType::f32);
  EXPECT_ALLCLOSE(matmul(af, bf), naive_bmm(a, bt), 1e-5, 1e-5);
}

TEST(Matmul, OneDPromotionAndDot) {
  Tensor v = rnd({4}, 6), w = rnd({4}, 7), m = rnd({4, 3}, 8), n = rnd({2, 4}, 9);
  Tensor d = matmul(v, w);
  EXPECT_EQ(d.dim(), 0);
  double s = 0;
  for (int i = 0; i < 4; ++i) s += v.to_vector<double>()[i] * w.to_vector<double>()[i];
  EXPECT_NEAR(d.item<double>(), s, 1e-12);
  EXPECT_ALLCLOSE(matmul(v, m), naive_bmm(v.reshape({1, 4}), m).reshape({3}), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(matmul(n, v), naive_bmm(n, v.reshape({4, 1})).reshape({2}), 1e-12, 1e-12);
  Tensor b3 = rnd({2, 4, 3}, 10);
  Tensor vb = matmul(v, b3);  // (4) x (2,4,3) -> (2,3)
  EXPECT_EQ(vb.shape(), (Shape{2, 3}));
  EXPECT_ALLCLOSE(vb, naive_bmm(v.reshape({1, 1, 4}).expand({2, 1, 4}), b3).reshape({2, 3}), 1e-12, 1e-12);
}

TEST(Matmul, BatchedBroadcastingAndBmm) {
  Tensor a = rnd({2, 1, 3, 4}, 11), b = rnd({5, 4, 2}, 12);
  Tensor y = matmul(a, b);
  ASSERT_EQ(y.shape(), (Shape{2, 5, 3, 2}));
  EXPECT_ALLCLOSE(y, naive_bmm(a.expand({2, 5, 3, 4}), b.expand({2, 5, 4, 2})), 1e-12, 1e-12);
  Tensor c = rnd({3, 4}, 13);  // (2,1,3,4) x (4,2) folds the batch into rows; (3,4) x (2,5,4,2) broadcasts
  EXPECT_ALLCLOSE(matmul(a, rnd({4, 2}, 14)), naive_bmm(a, rnd({4, 2}, 14).expand({2, 1, 4, 2})), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(matmul(c, b), naive_bmm(c.expand({5, 3, 4}), b), 1e-12, 1e-12);
  Tensor p = rnd({3, 2, 4}, 15), q = rnd({3, 2, 4}, 16).transpose(1, 2);  // q (3,4,2), transposed inner
  EXPECT_ALLCLOSE(bmm(p, q), naive_bmm(p, q), 1e-12, 1e-12);
  Tensor pe = rnd({1, 2, 4}, 17).expand({3, 2, 4});  // batch stride 0
  EXPECT_ALLCLOSE(bmm(pe, q), naive_bmm(pe, q), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(matmul(rnd({2, 0}, 18), rnd({0, 3}, 19)), Tensor::zeros({2, 3}, DType::f64), 0, 0);
}

TEST(Matmul, LinearAnyLeadingDims) {
  Tensor x = rnd({2, 3, 4}, 20), W = rnd({5, 4}, 21), bias = rnd({5}, 22);
  Tensor y = linear(x, W, bias);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5}));
  Tensor ref = naive_bmm(x.reshape({6, 4}), W.transpose(0, 1)).reshape({2, 3, 5});
  EXPECT_ALLCLOSE(y, add(ref, bias), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(linear(x, W), ref, 1e-12, 1e-12);
  Tensor xt = rnd({4, 6}, 23).transpose(0, 1);  // non-contiguous input
  EXPECT_ALLCLOSE(linear(xt, W, bias), add(naive_bmm(xt, W.transpose(0, 1)), bias), 1e-12, 1e-12);
  EXPECT_EQ(linear(rnd({4}, 24), W).shape(), (Shape{5}));
}

TEST(Matmul, Gradchecks) {
  gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, {rnd({3, 4}, 30), rnd({4, 2}, 31)});
  gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
            {rnd({4, 3}, 32).transpose(0, 1), rnd({2, 4}, 33).transpose(0, 1)});
  gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, {rnd({2, 1, 2, 3}, 34), rnd({3, 3, 2}, 35)});
  gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, {rnd({3}, 36), rnd({3}, 37)});
  gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, {rnd({3}, 38), rnd({2, 3, 2}, 39)});
  gradcheck([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, {rnd({2, 2, 3}, 40), rnd({3}, 41)});
  gradcheck([](const std::vector<Tensor>& x) { return bmm(x[0], x[1]); }, {rnd({2, 3, 2}, 42), rnd({2, 2, 3}, 43)});
  gradcheck([](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
            {rnd({2, 2, 3}, 44), rnd({4, 3}, 45), rnd({4}, 46)});
  gradcheck([](const std::vector<Tensor>& x) { return linear(x[0], x[1]); },
            {rnd({3, 2}, 47).transpose(0, 1), rnd({3, 4}, 48).transpose(0, 1)});
}

TEST(Matmul, BadShapesNameOpAndShapes) {
  expect_error([] { matmul(rnd({2, 3}, 1), rnd({4, 2}, 2)); }, {"matmul", "[2, 3]", "[4, 2]"});
  expect_error([] { matmul(rnd({2, 2, 3}, 1), rnd({3, 3, 2}, 2)); }, {"matmul", "[2]", "[3]"});
  expect_error([] { matmul(rnd({3}, 1), rnd({4}, 2)); }, {"matmul", "[3]", "[4]"});
  expect_error([] { bmm(rnd({2, 2, 3}, 1), rnd({3, 3, 2}, 2)); }, {"bmm", "[2, 2, 3]", "[3, 3, 2]"});
  expect_error([] { linear(rnd({2, 3}, 1), rnd({4, 2}, 2)); }, {"linear", "[2, 3]", "[4, 2]"});
  expect_error([] { linear(rnd({2, 3}, 1), rnd({4, 3}, 2), rnd({3}, 3)); }, {"linear", "[3]", "[4, 3]"});
  expect_error([] { matmul(rnd({2, 3}, 1), rnd({3, 2}, 2, -1, 1, DType::f32)); }, {"matmul"});
  expect_error([] { matmul(rnd({2, 3}, 1).to(DType::i64), rnd({3, 2}, 2)); }, {"matmul"});
}

// OpenBLAS (float64; float32 too in a DNNL=0 build) is Debian's OpenMP build, linked from its own
// directory (Makefile OPENBLAS_DIR): no thread pool of its own. It runs on the calling thread, and a
// GEMM leaves OpenMP's thread count as it found it (openblas_set_num_threads, in that build, would set
// it to 1 for every later parallel region). Below and above the size at which the GEMM's tiles run on
// OpenMP threads, on 3, 2 and 1 threads: the same bits, the count kept.
TEST(Matmul, CpuBlasOnOpenMpThreadsLeavesTheirCount) {
  EXPECT_EQ(openblas_get_parallel(), 2) << "the linked OpenBLAS is not the OpenMP build (0 serial, 1 pthreads): "
                                        << openblas_get_config();
  const int before = omp_get_max_threads();
  for (int64_t n : {int64_t(24), int64_t(160)}) {
    SCOPED_TRACE(::testing::Message() << n << "^3");
    Tensor a = rnd({n, n}, 61), b = rnd({n, n}, 62);
    std::vector<double> first;
    for (int threads : {3, 2, 1}) {  // 1 last: a count set to 1 by the GEMM shows on 3 and 2
      omp_set_num_threads(threads);
      std::vector<double> got = matmul(a, b).to_vector<double>();
      EXPECT_EQ(omp_get_max_threads(), threads) << "a float64 GEMM changed OpenMP's thread count";
      if (first.empty())
        first = got;
      else
        EXPECT_TRUE(got == first) << "other bits on " << threads << " threads";
    }
    EXPECT_ALLCLOSE(Tensor::from_vector<double>(first, {n, n}), naive_bmm(a, b), 1e-12, 1e-12);
  }
  omp_set_num_threads(before);
}

TEST(Matmul, ParityCpuCuda) {
  VPS_REQUIRE_CUDA();
  using vps::testing::check_parity;
  check_parity([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); }, {rnd({2, 1, 3, 4}, 50), rnd({5, 4, 2}, 51)});
  check_parity([](const std::vector<Tensor>& x) { return matmul(x[0], x[1].transpose(0, 1)); },
               {rnd({3, 4}, 52), rnd({5, 4}, 53)});
  check_parity([](const std::vector<Tensor>& x) { return bmm(x[0], x[1]); }, {rnd({2, 3, 4}, 54), rnd({2, 4, 5}, 55)});
  check_parity([](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
               {rnd({2, 3, 4}, 56), rnd({6, 4}, 57), rnd({6}, 58)});
  check_parity([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
               {rnd({3, 4}, 59, -1, 1, DType::f32), rnd({4, 2}, 60, -1, 1, DType::f32)});
}
