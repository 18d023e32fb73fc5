// Reductions: sum/mean over dim sets, max/min (ties -> first index), argmax/argmin, norm,
// softmax/log_softmax (incl. values that overflow a naive exp), softmax_argmax, l2_normalize; gradchecks, parity,
// non-contiguous inputs and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "ops/ops.h"
#include "tests/error_of.h"
#include "tests/expect_error.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::error_of;
using vps::testing::gradcheck;
using vps::testing::rnd;

namespace {

// Plain reference over a 3-D tensor: folds the elements of each output position with `fold`, then
// `finish(acc, count)`. dims are already non-negative.
Tensor naive_reduce3(const Tensor& x, const std::set<int64_t>& dims, bool keepdim, double init,
                     const std::function<double(double, double)>& fold,
                     const std::function<double(double, int64_t)>& finish) {
  const Shape& s = x.shape();
  std::vector<double> v = x.to_vector<double>();
  Shape kept(3), out_shape;
  for (int64_t d = 0; d < 3; ++d) {
    kept[size_t(d)] = dims.count(d) ? 1 : s[size_t(d)];
    if (!dims.count(d) || keepdim) out_shape.push_back(kept[size_t(d)]);
  }
  std::vector<double> acc(size_t(shape_numel(kept)), init);
  std::vector<int64_t> cnt(acc.size(), 0);
  for (int64_t i = 0; i < s[0]; ++i)
    for (int64_t j = 0; j < s[1]; ++j)
      for (int64_t k = 0; k < s[2]; ++k) {
        int64_t oi = dims.count(0) ? 0 : i, oj = dims.count(1) ? 0 : j, ok = dims.count(2) ? 0 : k;
        size_t o = size_t((oi * kept[1] + oj) * kept[2] + ok);
        acc[o] = fold(acc[o], v[size_t((i * s[1] + j) * s[2] + k)]);
        cnt[o]++;
      }
  for (size_t o = 0; o < acc.size(); ++o) acc[o] = finish(acc[o], cnt[o]);
  return Tensor::from_vector<double>(acc, out_shape);
}

auto plus = [](double a, double v) { return a + v; };
auto ident = [](double a, int64_t) { return a; };
auto avg = [](double a, int64_t n) { return a / double(n); };

}  // namespace

TEST(Reduce, SumMeanOverDimSetsWithNegativeDimsAndKeepdim) {
  Tensor x = rnd({2, 3, 4}, 1);
  std::vector<std::pair<std::vector<int64_t>, std::set<int64_t>>> sets = {
      {{}, {0, 1, 2}}, {{0}, {0}}, {{-1}, {2}}, {{1, -1}, {1, 2}}, {{-3, 2}, {0, 2}}, {{2, 0, 1}, {0, 1, 2}}};
  for (auto& [dims, canon] : sets)
    for (bool keep : {false, true}) {
      SCOPED_TRACE(std::to_string(dims.size()) + (keep ? " keepdim" : ""));
      EXPECT_ALLCLOSE(sum(x, dims, keep), naive_reduce3(x, canon, keep, 0, plus, ident), 1e-14, 1e-14);
      EXPECT_ALLCLOSE(mean(x, dims, keep), naive_reduce3(x, canon, keep, 0, plus, avg), 1e-14, 1e-14);
    }
  Tensor nc = x.permute({2, 0, 1});  // non-contiguous (4, 2, 3)
  EXPECT_ALLCLOSE(sum(nc, {0}), sum(x, {2}), 1e-14, 1e-14);
  EXPECT_ALLCLOSE(mean(x.to(DType::f32), {1}), mean(x, {1}), 1e-6, 1e-5);
  gradcheck([](const std::vector<Tensor>& v) { return sum(v[0], {0, -1}, true); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return mean(v[0], {1}); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return sum_to(v[0], {3, 1}); }, {x});
}

TEST(Reduce, MaxMinValuesIndicesFirstOccurrence) {
  // ties: row 0 has two maxima (5) at 1 and 3, two minima (1) at 0 and 2.
  Tensor x = Tensor::from_vector<double>({1, 5, 1, 5, 2, 2, 2, 2, 7, 0, 7, 0}, {3, 4});
  ValuesIndices m = max(x, 1);
  EXPECT_EQ(m.values.to_vector<double>(), (std::vector<double>{5, 2, 7}));
  EXPECT_EQ(m.indices.dtype(), DType::i64);
  EXPECT_EQ(m.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0}));
  ValuesIndices n = min(x, -1, true);
  EXPECT_EQ(n.values.shape(), (Shape{3, 1}));
  EXPECT_EQ(n.values.to_vector<double>(), (std::vector<double>{1, 2, 0}));
  EXPECT_EQ(n.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(argmax(x, 0).to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 2, 0}));
  EXPECT_EQ(argmin(x, 0, true).shape(), (Shape{1, 4}));
  EXPECT_EQ(argmin(x, 0).to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 0, 2}));
  EXPECT_EQ(max(x).item<double>(), 7);
  EXPECT_EQ(min(x).item<double>(), 0);
  EXPECT_EQ(max(x).dim(), 0);
  // integer input, non-contiguous input
  Tensor i = Tensor::from_vector<int64_t>({3, 9, 9, -4}, {2, 2});
  EXPECT_EQ(argmax(i, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(max(x.transpose(0, 1), 1).indices.to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 2, 0}));
  // max over a middle dim of a 3-D tensor against a naive loop
  Tensor y = rnd({2, 5, 3}, 2);
  auto take_max = [](double a, double v) { return std::max(a, v); };
  EXPECT_ALLCLOSE(max(y, 1).values, naive_reduce3(y, {1}, false, -INFINITY, take_max, ident), 0, 0);
  EXPECT_ALLCLOSE(max(y), naive_reduce3(y, {0, 1, 2}, false, -INFINITY, take_max, ident), 0, 0);
}

TEST(Reduce, MaxMinBackwardScattersToIndex) {
  Tensor x = Tensor::from_vector<double>({1, 5, 1, 5, 2, 2, 2, 2}, {2, 4}).set_requires_grad();
  sum(mul(max(x, 1).values, Tensor::from_vector<double>({10, 20}, {2}))).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 10, 0, 0, 20, 0, 0, 0}));
  Tensor y = Tensor::from_vector<double>({3, 1, 1, 4}, {4}).set_requires_grad();
  min(y).backward();
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{0, 1, 0, 0}));
  Tensor r = rnd({3, 4, 5}, 3);  // distinct values: no ties
  gradcheck([](const std::vector<Tensor>& v) { return max(v[0], 1, true).values; }, {r});
  gradcheck([](const std::vector<Tensor>& v) { return min(v[0], -1).values; }, {r});
  gradcheck([](const std::vector<Tensor>& v) { return max(v[0]); }, {r});
  gradcheck([](const std::vector<Tensor>& v) { return min(permute(v[0], {2, 0, 1}), 0).values; }, {r});
}

TEST(Reduce, NormForwardBackwardAndZeroRows) {
  Tensor x = rnd({2, 3, 4}, 4);
  auto sq = [](double a, double v) { return a + v * v; };
  auto root = [](double a, int64_t) { return std::sqrt(a); };
  EXPECT_ALLCLOSE(norm(x), naive_reduce3(x, {0, 1, 2}, false, 0, sq, root), 1e-14, 1e-14);
  EXPECT_ALLCLOSE(norm(x, {-1, 0}, true), naive_reduce3(x, {0, 2}, true, 0, sq, root), 1e-14, 1e-14);
  EXPECT_ALLCLOSE(norm(x.transpose(0, 2), {1}), norm(x, {1}).transpose(0, 1), 1e-14, 1e-14);
  gradcheck([](const std::vector<Tensor>& v) { return norm(v[0], {1}); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return norm(v[0], {0, 2}, true); }, {x});
  Tensor z = Tensor::from_vector<double>({0, 0, 3, 4}, {2, 2}).set_requires_grad();
  Tensor n = norm(z, {1});
  EXPECT_EQ(n.to_vector<double>(), (std::vector<double>{0, 5}));
  sum(n).backward();
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{0, 0, 0.6, 0.8}));
}

TEST(Reduce, SoftmaxLogSoftmaxMatchNaiveAndSurviveLargeValues) {
  Tensor x = rnd({2, 3, 4}, 5, -3, 3);
  for (int64_t dim : {0, 1, 2, -1}) {
    SCOPED_TRACE(dim);
    int64_t d = dim < 0 ? dim + 3 : dim;
    Tensor e = exp(x);
    Tensor ref = div(e, sum(e, {d}, true));
    EXPECT_ALLCLOSE(softmax(x, dim), ref, 1e-14, 1e-12);
    EXPECT_ALLCLOSE(log_softmax(x, dim), log(ref), 1e-13, 1e-12);
    EXPECT_ALLCLOSE(softmax(x.to(DType::f32), dim), ref, 1e-6, 1e-5);
  }
  // exp(1000) overflows: the max-subtracted form stays exact.
  Tensor big = Tensor::from_vector<double>({1000, 1001, 1002, -1000, 0, 1000}, {2, 3});
  std::vector<double> s = softmax(big, 1).to_vector<double>(), ls = log_softmax(big, 1).to_vector<double>();
  double z = 1 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(s[2], 1 / z, 1e-15);
  EXPECT_NEAR(s[0], std::exp(-2.0) / z, 1e-15);
  EXPECT_NEAR(ls[0], -2 - std::log(z), 1e-12);
  EXPECT_NEAR(s[5], 1.0, 1e-15);
  EXPECT_NEAR(ls[3], -2000.0, 1e-9);
  std::vector<float> sf = softmax(big.to(DType::f32), 1).to_vector<float>();
  for (float v : sf) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(sf[2], 1 / z, 1e-6);
  // f32 rows (polynomial exp) over a wide range, contiguous and strided, against f64
  Tensor w = rnd({6, 70}, 14, -40, 40);
  EXPECT_ALLCLOSE(softmax(w.to(DType::f32), 1), softmax(w, 1), 1e-8, 2e-6);
  EXPECT_ALLCLOSE(softmax(w.to(DType::f32), 0), softmax(w, 0), 1e-8, 2e-6);
  EXPECT_ALLCLOSE(log_softmax(w.to(DType::f32), 1), log_softmax(w, 1), 1e-5, 1e-6);
  // -inf entries (masked logits) get exactly 0
  Tensor masked = Tensor::from_vector<float>({0, -INFINITY, 1}, {1, 3});
  std::vector<float> sm = softmax(masked, 1).to_vector<float>();
  EXPECT_EQ(sm[1], 0.0f);
  EXPECT_NEAR(sm[0], 1 / (1 + std::exp(1.0)), 1e-7);
  // a NaN poisons its row only, as in torch
  std::vector<float> sn = softmax(Tensor::from_vector<float>({1, NAN, 2, 0, 1, 2}, {2, 3}), 1).to_vector<float>();
  for (int j = 0; j < 3; ++j) EXPECT_TRUE(std::isnan(sn[size_t(j)]));
  for (int j = 3; j < 6; ++j) EXPECT_TRUE(std::isfinite(sn[size_t(j)]));
  // non-contiguous input
  Tensor nc = x.permute({2, 0, 1});
  EXPECT_ALLCLOSE(softmax(nc, 0), softmax(x, 2).permute({2, 0, 1}), 1e-15, 1e-14);
}

TEST(Reduce, SoftmaxGradcheck) {
  Tensor x = rnd({2, 3, 4}, 6, -2, 2);
  for (int64_t dim : {0, 1, -1}) {
    SCOPED_TRACE(dim);
    gradcheck([=](const std::vector<Tensor>& v) { return softmax(v[0], dim); }, {x});
    gradcheck([=](const std::vector<Tensor>& v) { return log_softmax(v[0], dim); }, {x});
  }
  gradcheck([](const std::vector<Tensor>& v) { return log_softmax(transpose(v[0], 0, 2), 1); }, {x});
}

TEST(Reduce, L2Normalize) {
  Tensor x = rnd({3, 4}, 7);
  Tensor y = l2_normalize(x, 1);
  std::vector<double> v = x.to_vector<double>(), w = y.to_vector<double>();
  for (int r = 0; r < 3; ++r) {
    double n = 0;
    for (int c = 0; c < 4; ++c) n += v[size_t(r * 4 + c)] * v[size_t(r * 4 + c)];
    n = std::sqrt(n);
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(w[size_t(r * 4 + c)], v[size_t(r * 4 + c)] / n, 1e-15);
  }
  EXPECT_ALLCLOSE(norm(l2_normalize(x, 0), {0}), Tensor::ones({4}, DType::f64), 1e-14, 0);
  Tensor zero = Tensor::zeros({2, 3}, DType::f64);
  EXPECT_EQ(l2_normalize(zero, -1).to_vector<double>(), std::vector<double>(6, 0.0));
  gradcheck([](const std::vector<Tensor>& v) { return l2_normalize(v[0], 1); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return l2_normalize(v[0], 0, 0.5); }, {rnd({2, 3}, 8, 0.1, 0.3)});
}

TEST(Reduce, BadInputNamesOpAndShapes) {
  Tensor x = rnd({2, 3}, 9);
  std::string m = error_of([&] { sum(x, {2}); });
  EXPECT_NE(m.find("sum"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  m = error_of([&] { mean(x, {1, -1}); });
  EXPECT_NE(m.find("repeated"), std::string::npos) << m;
  m = error_of([&] { max(x, 5); });
  EXPECT_NE(m.find("max"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  m = error_of([&] { argmin(Tensor::zeros({2, 0}), 1); });
  EXPECT_NE(m.find("argmin"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 0]"), std::string::npos) << m;
  m = error_of([&] { softmax(x, -3); });
  EXPECT_NE(m.find("softmax"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  m = error_of([&] { log_softmax(Tensor::zeros({2}, DType::i64), 0); });
  EXPECT_NE(m.find("log_softmax"), std::string::npos) << m;
  EXPECT_NE(m.find("int64"), std::string::npos) << m;
  m = error_of([&] { norm(x, {0, 0}); });
  EXPECT_NE(m.find("norm"), std::string::npos) << m;
  m = error_of([&] { l2_normalize(x, 2); });
  EXPECT_NE(m.find("l2_normalize"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  m = error_of([&] { sum_to(x, {4, 3}); });
  EXPECT_NE(m.find("sum_to"), std::string::npos) << m;
}

TEST(Reduce, ParityCpuCuda) {
  VPS_REQUIRE_CUDA();
  using V = std::vector<Tensor>;
  vps::testing::ParityOptions o;
  o.atol = 1e-10;
  vps::testing::check_parity([](const V& v) { return V{sum(v[0], {0, 2}), mean(v[0], {-1}, true), norm(v[0], {1})}; },
                             {rnd({5, 70, 33}, 10)}, o);
  vps::testing::check_parity(
      [](const V& v) { return V{softmax(v[0], 1), log_softmax(v[0], -1), l2_normalize(v[0], 2)}; },
      {rnd({5, 70, 33}, 11, -5, 5)}, o);
  vps::testing::check_parity(
      [](const V& v) {
        ValuesIndices m = max(v[0], 1);
        return V{m.values, m.indices.to(DType::f64), min(v[0], 0, true).values, max(v[0]),
                 argmin(v[0], 2).to(DType::f64)};
      },
      {rnd({5, 70, 33}, 12)}, o);
  // Long rows: a full sum and a few 5000-element rows take parallel_reduce_rows' two-pass (chunked)
  // path on CUDA; softmax rows longer than a block, contiguous and strided.
  vps::testing::check_parity(
      [](const V& v) { return V{sum(v[0]), mean(v[0], {1}), norm(v[0], {1}, true), softmax(v[0], 1)}; },
      {rnd({3, 5000}, 14)}, o);
  vps::testing::check_parity([](const V& v) { return V{log_softmax(v[0], 0), sum(v[0], {0})}; },
                             {rnd({3000, 7}, 15, -5, 5)}, o);
  // f32 rows use the polynomial exp on both devices (contiguous and strided rows)
  vps::testing::check_parity([](const V& v) { return V{softmax(v[0], -1), log_softmax(v[0], 1)}; },
                             {rnd({5, 70, 33}, 13, -20, 20, DType::f32)});
}

// softmax_argmax (ops/softmax.cu: rows in SIMD lanes, the probabilities never kept) against argmax of
// softmax's probabilities: every dim, float32 and float64, chunk tails (inner 300 = 256 + 44), rows
// whose probabilities tie (equal logits, and logits so far below the max that several underflow to the
// same 0 while the max is elsewhere), NaN and +inf rows (every probability NaN: index 0, as argmax).
TEST(Reduce, SoftmaxArgmaxMatchesArgmaxOfSoftmax) {
  Tensor x = rnd({3, 7, 300}, 41, -6, 6);
  for (DType dt : {DType::f32, DType::f64})
    for (int64_t dim : {0, 1, 2, -1}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " dim " + std::to_string(dim));
      Tensor xd = x.to(dt);
      EXPECT_EQ(softmax_argmax(xd, dim).to_vector<int64_t>(), argmax(softmax(xd, dim), dim).to_vector<int64_t>());
      EXPECT_EQ(softmax_argmax(xd, dim).shape(), argmax(xd, dim).shape());
    }
  // a (channels, pixels) map as the panoptic head's: ties, underflow, NaN and +inf columns
  std::vector<float> v(5 * 4, 0.f);
  auto at = [&](int64_t c, int64_t p) -> float& { return v[size_t(c * 4 + p)]; };
  at(1, 0) = 2, at(3, 0) = 2;                        // equal maxima: the first (1)
  at(0, 1) = -200, at(2, 1) = 50, at(4, 1) = -300;   // 2 wins; 0, 4 underflow to 0 with the rest
  at(2, 2) = NAN, at(3, 2) = 9;                      // a NaN: 0
  at(1, 3) = INFINITY, at(4, 3) = 1;                 // +inf - +inf is NaN: 0
  Tensor m = Tensor::from_vector<float>(v, {5, 4});
  std::vector<int64_t> want = {1, 2, 0, 0};
  EXPECT_EQ(softmax_argmax(m, 0).to_vector<int64_t>(), want);
  EXPECT_EQ(argmax(softmax(m, 0), 0).to_vector<int64_t>(), want);
  EXPECT_EQ(softmax_argmax(m.permute({1, 0}), 1).to_vector<int64_t>(), want);  // non-contiguous, dim last
  vps::testing::expect_error([&] { softmax_argmax(Tensor::zeros({0, 3}, DType::f32), 0); }, {"softmax_argmax", "empty"});
  vps::testing::expect_error([&] { softmax_argmax(m, 2); }, {"softmax_argmax", "out of range"});
}
