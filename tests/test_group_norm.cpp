#include <gtest/gtest.h>

#include <cmath>

#include "layers/group_norm.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::fixture;
using vps::testing::rnd;

namespace {

Tensor naive_gn(const Tensor& x, int64_t G, const Tensor& w, const Tensor& b, double eps) {
  auto xv = x.contiguous().to_vector<double>();
  auto wv = w.to_vector<double>(), bv = b.to_vector<double>();
  int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C), cg = C / G;
  std::vector<double> y(xv.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g) {
      double m = 0, v = 0, cnt = double(cg * S);
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c)
        for (int64_t k = 0; k < S; ++k) m += xv[(n * C + c) * S + k] / cnt;
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c)
        for (int64_t k = 0; k < S; ++k) v += std::pow(xv[(n * C + c) * S + k] - m, 2) / cnt;
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c)
        for (int64_t k = 0; k < S; ++k) {
          int64_t i = (n * C + c) * S + k;
          y[i] = (xv[i] - m) / std::sqrt(v + eps) * wv[c] + bv[c];
        }
    }
  return Tensor::from_vector<double>(y, x.shape());
}

}  // namespace

TEST(GroupNorm, MatchesNaive) {
  Tensor x = rnd({2, 6, 3}, 1), w = rnd({6}, 2), b = rnd({6}, 3);
  for (int64_t g : {1, 2, 3, 6}) EXPECT_ALLCLOSE(group_norm(x, g, w, b), naive_gn(x, g, w, b, 1e-5), 1e-12, 1e-10);
}

TEST(GroupNorm, GoldenFixture) {
  auto f = [](const char* k) { return fixture("nn", std::string("gn_") + k); };
  Tensor x = f("x").set_requires_grad(), w = f("w").set_requires_grad(), b = f("b").set_requires_grad();
  Tensor y = group_norm(x, 3, w, b, 1e-5);
  y.backward(f("dy"));
  EXPECT_ALLCLOSE(y, f("y"), 1e-10, 1e-8);
  EXPECT_ALLCLOSE(x.grad(), f("dx"), 1e-10, 1e-8);
  EXPECT_ALLCLOSE(w.grad(), f("dw"), 1e-10, 1e-8);
  EXPECT_ALLCLOSE(b.grad(), f("db"), 1e-10, 1e-8);
}

TEST(GroupNorm, Gradcheck) {
  Tensor x = rnd({2, 4, 2, 3}, 4).set_requires_grad(), w = rnd({4}, 5).set_requires_grad();
  Tensor b = rnd({4}, 6).set_requires_grad();
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return group_norm(in[0], 2, in[1], in[2]); }, {x, w, b});
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return group_norm(in[0], 4, Tensor(), Tensor()); }, {x});
}

TEST(GroupNorm, NonContiguousInput) {
  Tensor x = rnd({3, 4, 2}, 7).permute({2, 1, 0});  // (2, 4, 3)
  ASSERT_FALSE(x.is_contiguous());
  Tensor w = rnd({4}, 8), b = rnd({4}, 9);
  EXPECT_ALLCLOSE(group_norm(x, 2, w, b), naive_gn(x, 2, w, b, 1e-5), 1e-12, 1e-10);
}

TEST(GroupNorm, BadInput) {
  Tensor x = rnd({2, 6, 3}, 10);
  try {
    group_norm(x, 4, Tensor(), Tensor());
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("group_norm"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 6, 3]"), std::string::npos) << m;
  }
  EXPECT_THROW(group_norm(x, 2, rnd({5}, 1), Tensor()), Error);
  EXPECT_THROW(group_norm(x, 2, Tensor(), rnd({6}, 1).to(DType::f32)), Error);
  EXPECT_THROW(group_norm(rnd({6}, 1), 2, Tensor(), Tensor()), Error);
}

TEST(GroupNorm, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor x = rnd({2, 8, 5, 7}, 11), w = rnd({8}, 12), b = rnd({8}, 13);
  vps::testing::check_parity([](const std::vector<Tensor>& in) { return group_norm(in[0], 4, in[1], in[2]); }, {x, w, b});
}

TEST(GroupNorm, LongGroupsUseChunkedReductions) {
  Tensor x = rnd({2, 4, 20, 20}, 20).set_requires_grad(), w = rnd({4}, 21).set_requires_grad();
  Tensor b = rnd({4}, 22).set_requires_grad();
  EXPECT_ALLCLOSE(group_norm(x, 2, w, b), naive_gn(x.detach(), 2, w.detach(), b.detach(), 1e-5), 1e-12, 1e-10);
  vps::testing::GradcheckOptions o;
  o.max_entries = 16;
  vps::testing::gradcheck([](const std::vector<Tensor>& in) { return group_norm(in[0], 2, in[1], in[2]); }, {x, w, b}, o);
}
