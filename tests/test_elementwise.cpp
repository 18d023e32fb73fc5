// Elementwise ops: forward vs naive loops, f64 gradchecks, broadcasting, non-contiguous inputs,
// comparisons / logical_not / where, bad input, CPU-vs-CUDA parity (skips without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "ops/ops.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::error_of;
using vps::testing::gradcheck;
using vps::testing::rnd;

namespace {

// Random f64 values in [lo, hi) pushed at least `gap` away from every point in `kinks`.
Tensor rnd_away(const Shape& s, uint64_t seed, double lo, double hi, std::vector<double> kinks, double gap = 0.1) {
  std::vector<double> v = rnd(s, seed, lo, hi).to_vector<double>();
  for (double& x : v)
    for (double k : kinks)
      if (std::fabs(x - k) < gap) x = x < k ? k - gap : k + gap;
  return Tensor::from_vector<double>(v, s);
}

// Plain broadcasting reference: out[i...] = f(a[i...], b[i...]) with size-1 / missing dims repeated.
Tensor naive_binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  size_t nd = std::max(a.shape().size(), b.shape().size());
  Shape sa(nd, 1), sb(nd, 1), so(nd);
  std::copy(a.shape().begin(), a.shape().end(), sa.begin() + (nd - a.shape().size()));
  std::copy(b.shape().begin(), b.shape().end(), sb.begin() + (nd - b.shape().size()));
  for (size_t d = 0; d < nd; ++d) so[d] = std::max(sa[d], sb[d]);
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>(), vo(size_t(shape_numel(so)));
  for (int64_t i = 0; i < int64_t(vo.size()); ++i) {
    int64_t rem = i, ia = 0, ib = 0, ma = 1, mb = 1;
    for (int64_t d = int64_t(nd) - 1; d >= 0; --d) {
      int64_t c = rem % so[d];
      rem /= so[d];
      ia += (sa[d] == 1 ? 0 : c) * ma;
      ib += (sb[d] == 1 ? 0 : c) * mb;
      ma *= sa[d];
      mb *= sb[d];
    }
    vo[size_t(i)] = f(va[size_t(ia)], vb[size_t(ib)]);
  }
  return Tensor::from_vector<double>(vo, so);
}

Tensor naive_unary(const Tensor& a, const std::function<double(double)>& f) {
  std::vector<double> v = a.to_vector<double>();
  for (double& x : v) x = f(x);
  return Tensor::from_vector<double>(v, a.shape());
}

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;
  std::vector<double> kinks;
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, -2, 2, {}},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, -2, 2, {}},
      {"log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }, 0.2, 3, {}},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); }, 0.2, 3, {}},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double x) { return std::fabs(x); }, -2, 2, {0}},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0; }, -2, 2, {0}},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, [](double x) { return x > 0 ? x : 0.2 * x; },
       -2, 2, {0}},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](double x) { return 1 / (1 + std::exp(-x)); }, -4, 4, {}},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }, -3, 3, {}},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.7); },
       [](double x) { return std::min(std::max(x, -0.5), 0.7); }, -2, 2, {-0.5, 0.7}},
      {"clamp_min", [](const Tensor& x) { return clamp_min(x, 0.3); }, [](double x) { return std::max(x, 0.3); }, -2, 2,
       {0.3}},
      {"clamp_max", [](const Tensor& x) { return clamp_max(x, -0.3); }, [](double x) { return std::min(x, -0.3); }, -2,
       2, {-0.3}},
  };
}

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
  double blo, bhi;  // range of b (a is in [0.5, 2] so pow is defined)
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, [](double a, double b) { return a + b; }, -2, 2},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, [](double a, double b) { return a - b; }, -2, 2},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, [](double a, double b) { return a * b; }, -2, 2},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, [](double a, double b) { return a / b; }, 0.5, 2},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); },
       [](double a, double b) { return std::pow(a, b); }, -1.5, 1.5},
  };
}

}  // namespace

TEST(Elementwise, UnaryForwardMatchesNaiveLoopF64AndF32) {
  for (const UnaryCase& c : unary_cases()) {
    SCOPED_TRACE(c.name);
    Tensor x = rnd_away({3, 5}, 11, c.lo, c.hi, c.kinks);
    EXPECT_ALLCLOSE(c.op(x), naive_unary(x, c.ref), 1e-14, 1e-14);
    Tensor y = c.op(x.to(DType::f32));
    EXPECT_EQ(y.dtype(), DType::f32);
    EXPECT_ALLCLOSE(y, naive_unary(x, c.ref), 1e-6, 1e-5);
  }
}

TEST(Elementwise, UnaryGradcheck) {
  for (const UnaryCase& c : unary_cases()) {
    SCOPED_TRACE(c.name);
    gradcheck([&](const std::vector<Tensor>& v) { return c.op(v[0]); }, {rnd_away({2, 5}, 12, c.lo, c.hi, c.kinks)});
  }
}

TEST(Elementwise, UnaryNonContiguousInput) {
  for (const UnaryCase& c : unary_cases()) {
    SCOPED_TRACE(c.name);
    Tensor base = rnd_away({4, 3}, 13, c.lo, c.hi, c.kinks);
    Tensor t = base.transpose(0, 1);  // (3, 4), strides (1, 3)
    ASSERT_FALSE(t.is_contiguous());
    EXPECT_ALLCLOSE(c.op(t), naive_unary(t.contiguous(), c.ref), 1e-14, 1e-14);
  }
}

TEST(Elementwise, BinaryBroadcastingForwardMatchesNaiveLoop) {
  for (const BinaryCase& c : binary_cases()) {
    SCOPED_TRACE(c.name);
    Tensor a = rnd({2, 1, 4}, 21, 0.5, 2), b = rnd({3, 1}, 22, c.blo, c.bhi);
    Tensor out = c.op(a, b);
    EXPECT_EQ(out.shape(), (Shape{2, 3, 4}));
    EXPECT_ALLCLOSE(out, naive_binary(a, b, c.ref), 1e-14, 1e-14);
    Tensor same = rnd({2, 3, 4}, 23, c.blo, c.bhi);  // contiguous fast path
    EXPECT_ALLCLOSE(c.op(rnd({2, 3, 4}, 24, 0.5, 2), same), naive_binary(rnd({2, 3, 4}, 24, 0.5, 2), same, c.ref), 1e-14,
                    1e-14);
    EXPECT_ALLCLOSE(c.op(a.to(DType::f32), b.to(DType::f32)), naive_binary(a, b, c.ref), 1e-6, 1e-5);
  }
}

TEST(Elementwise, BinaryGradcheckWithBroadcasting) {
  for (const BinaryCase& c : binary_cases()) {
    SCOPED_TRACE(c.name);
    auto f = [&](const std::vector<Tensor>& v) { return c.op(v[0], v[1]); };
    gradcheck(f, {rnd({2, 1, 4}, 31, 0.5, 2), rnd({3, 1}, 32, c.blo, c.bhi)});
    gradcheck(f, {rnd({3, 4}, 33, 0.5, 2), rnd({3, 4}, 34, c.blo, c.bhi)});
    gradcheck(f, {rnd({}, 35, 0.5, 2), rnd({2, 3}, 36, c.blo, c.bhi)});  // 0-d with 2-d
  }
}

TEST(Elementwise, BinaryNonContiguousInputs) {
  for (const BinaryCase& c : binary_cases()) {
    SCOPED_TRACE(c.name);
    Tensor a = rnd({4, 3}, 41, 0.5, 2).transpose(0, 1), b = rnd({3, 8}, 42, c.blo, c.bhi).slice(1, 0, 8, 2);
    ASSERT_FALSE(a.is_contiguous());
    ASSERT_FALSE(b.is_contiguous());
    EXPECT_ALLCLOSE(c.op(a, b), naive_binary(a.contiguous(), b.contiguous(), c.ref), 1e-14, 1e-14);
  }
}

TEST(Elementwise, ScalarForms) {
  Tensor a = rnd({2, 3}, 51, 0.5, 2);
  using F = std::function<double(double)>;
  std::vector<std::pair<Tensor, F>> cases = {
      {add(a, 2.5), [](double x) { return x + 2.5; }},    {sub(a, 2.5), [](double x) { return x - 2.5; }},
      {rsub(2.5, a), [](double x) { return 2.5 - x; }},   {mul(a, -3.0), [](double x) { return -3 * x; }},
      {div(a, 4.0), [](double x) { return x / 4; }},      {rdiv(2.0, a), [](double x) { return 2 / x; }},
      {pow(a, 1.5), [](double x) { return std::pow(x, 1.5); }}, {2.0 - a * 3.0 + 1.0, [](double x) { return 3 - 3 * x; }},
  };
  for (auto& [got, ref] : cases) EXPECT_ALLCLOSE(got, naive_unary(a, ref), 1e-14, 1e-14);
  gradcheck([](const std::vector<Tensor>& v) { return rdiv(2.0, v[0]); }, {a});
  gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], 2.5); }, {a});
  gradcheck([](const std::vector<Tensor>& v) { return rsub(1.0, v[0]) * 3.0; }, {a});
}

TEST(Elementwise, ComparisonsBroadcastToU8) {
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<double>({2, 2, 5}, {3});
  auto u8 = [](const Tensor& t) { return t.to_vector<uint8_t>(); };
  using V = std::vector<uint8_t>;
  EXPECT_EQ(eq(a, b).dtype(), DType::u8);
  EXPECT_EQ(u8(eq(a, b)), (V{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(u8(ne(a, b)), (V{1, 0, 1, 1, 1, 1}));
  EXPECT_EQ(u8(lt(a, b)), (V{1, 0, 1, 0, 0, 0}));
  EXPECT_EQ(u8(le(a, b)), (V{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(u8(gt(a, b)), (V{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(u8(ge(a, b)), (V{0, 1, 0, 1, 1, 1}));
  EXPECT_EQ(u8(eq(a, 3.0)), (V{0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(u8(ne(a, 3.0)), (V{1, 1, 0, 1, 1, 1}));
  EXPECT_EQ(u8(lt(a, 3.0)), (V{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(u8(le(a, 3.0)), (V{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(u8(gt(a, 3.0)), (V{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(u8(ge(a, 3.0)), (V{0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(u8(logical_not(gt(a, 3.0))), (V{1, 1, 1, 0, 0, 0}));
  // f32 compares against the scalar rounded to f32; integer tensors compare exactly.
  EXPECT_EQ(u8(eq(Tensor::full({1}, 0.1, DType::f32), 0.1)), (V{1}));
  Tensor i = Tensor::from_vector<int64_t>({-1, 0, 7}, {3});
  EXPECT_EQ(u8(gt(i, 0.5)), (V{0, 0, 1}));
  EXPECT_EQ(u8(logical_not(i)), (V{0, 1, 0}));
  // non-contiguous input
  EXPECT_EQ(u8(gt(a.transpose(0, 1), 2.5)), (V{0, 1, 0, 1, 1, 1}));
  // comparisons do not record a gradient
  Tensor r = a.clone().set_requires_grad();
  EXPECT_FALSE(lt(r, b).requires_grad());
}

TEST(Elementwise, WhereForwardBroadcastsAllThree) {
  Tensor c = Tensor::from_vector<uint8_t>({1, 0, 1}, {3});
  Tensor a = rnd({2, 1}, 61), b = rnd({2, 3}, 62);
  Tensor out = where(c, a, b);
  ASSERT_EQ(out.shape(), (Shape{2, 3}));
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>(), vo = out.to_vector<double>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(vo[size_t(i * 3 + j)], j != 1 ? va[size_t(i)] : vb[size_t(i * 3 + j)]);
  // condition from a comparison, non-contiguous data
  Tensor x = rnd({4, 3}, 63).transpose(0, 1);
  EXPECT_ALLCLOSE(where(gt(x, 0.0), x, Tensor::scalar(0, DType::f64)), relu(x), 0, 0);
}

TEST(Elementwise, WhereGradcheck) {
  Tensor c = gt(rnd({2, 1, 4}, 71), 0.0);
  gradcheck([&](const std::vector<Tensor>& v) { return where(c, v[0], v[1]); }, {rnd({3, 1}, 72), rnd({4}, 73)});
  gradcheck([&](const std::vector<Tensor>& v) { return where(c, v[0], v[1]); }, {rnd({2, 3, 4}, 74), rnd({}, 75)});
}

TEST(Elementwise, BadInputNamesOpAndShapes) {
  Tensor a = rnd({2, 3}, 1), b = rnd({4, 3}, 2), f = rnd({2, 3}, 3, -1, 1, DType::f32);
  for (const BinaryCase& c : binary_cases()) {
    std::string m = error_of([&] { c.op(a, b); });
    EXPECT_NE(m.find(c.name), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
    m = error_of([&] { c.op(a, f); });
    EXPECT_NE(m.find(c.name), std::string::npos) << m;
    EXPECT_NE(m.find("float64"), std::string::npos) << m;
    EXPECT_NE(m.find("float32"), std::string::npos) << m;
  }
  std::string m = error_of([&] { lt(a, b); });
  EXPECT_NE(m.find("lt"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
  m = error_of([&] { eq(a, f); });
  EXPECT_NE(m.find("eq: dtype mismatch"), std::string::npos) << m;
  m = error_of([&] { where(gt(a, 0.0), a, b); });
  EXPECT_NE(m.find("where"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
  m = error_of([&] { where(a, a, a); });
  EXPECT_NE(m.find("where: condition must be uint8"), std::string::npos) << m;
  m = error_of([&] { where(gt(a, 0.0), a, f); });
  EXPECT_NE(m.find("where: dtype mismatch"), std::string::npos) << m;
  m = error_of([&] { exp(Tensor::zeros({2}, DType::i64)); });
  EXPECT_NE(m.find("exp"), std::string::npos) << m;
  m = error_of([&] { clamp(a, 1.0, -1.0); });
  EXPECT_NE(m.find("clamp"), std::string::npos) << m;
}

TEST(Elementwise, ParityCpuCuda) {
  VPS_REQUIRE_CUDA();
  for (const UnaryCase& c : unary_cases()) {
    SCOPED_TRACE(c.name);
    vps::testing::check_parity([&](const std::vector<Tensor>& v) { return c.op(v[0]); },
                               {rnd_away({33, 65}, 81, c.lo, c.hi, c.kinks)});
  }
  for (const BinaryCase& c : binary_cases()) {
    SCOPED_TRACE(c.name);
    vps::testing::check_parity([&](const std::vector<Tensor>& v) { return c.op(v[0], v[1]); },
                               {rnd({4, 1, 40}, 82, 0.5, 2), rnd({7, 1}, 83, c.blo, c.bhi)});
  }
  Tensor cond = gt(rnd({4, 7, 40}, 84), 0.0);
  vps::testing::check_parity(
      [&](const std::vector<Tensor>& v) {
        Tensor cc = cond.to(v[0].device());
        return std::vector<Tensor>{where(cc, v[0], v[1]), lt(v[0], v[1]).to(DType::f64), ge(v[0], 0.25).to(DType::f64),
                                   logical_not(cc).to(DType::f64)};
      },
      {rnd({7, 1}, 85), rnd({4, 7, 40}, 86)});
}
