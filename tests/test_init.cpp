#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "layers/init.h"
#include "layers/norm_modules.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"

using namespace vps;
namespace init = vps::nn::init;

namespace {

void moments(const Tensor& t, double* mean, double* std, double* maxabs) {
  auto v = t.to(DType::f64).to_vector<double>();
  double s = 0, q = 0, m = 0;
  for (double x : v) s += x, m = std::max(m, std::abs(x));
  *mean = s / double(v.size());
  for (double x : v) q += (x - *mean) * (x - *mean);
  *std = std::sqrt(q / double(v.size()));
  *maxabs = m;
}

}  // namespace

TEST(Init, FansAndGains) {
  Tensor w = Tensor::empty({8, 4, 3, 3});
  EXPECT_EQ(init::fan_in(w), 36);
  EXPECT_EQ(init::fan_out(w), 72);
  EXPECT_NEAR(init::calculate_gain("relu"), std::sqrt(2.0), 1e-15);
  EXPECT_NEAR(init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3), 1e-15);
  EXPECT_NEAR(init::calculate_gain("tanh"), 5.0 / 3, 1e-15);
  EXPECT_EQ(init::calculate_gain("conv2d"), 1.0);
  EXPECT_THROW(init::calculate_gain("swish"), Error);
  EXPECT_THROW(init::fan_in(Tensor::empty({3})), Error);
}

TEST(Init, KaimingAndXavierBoundsAndStd) {
  Generator gen(7);
  Tensor w = Tensor::empty({32, 16, 3, 3});  // fan_in 144, fan_out 288
  double m, s, mx;
  init::kaiming_uniform_(w, gen, 0, init::FanMode::fan_in, "relu");
  double b = std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(144.0);
  moments(w, &m, &s, &mx);
  EXPECT_LE(mx, b);
  EXPECT_GT(mx, 0.99 * b);
  EXPECT_NEAR(s, b / std::sqrt(3.0), 0.02 * b);
  init::kaiming_normal_(w, gen, 0, init::FanMode::fan_out, "relu");
  moments(w, &m, &s, &mx);
  EXPECT_NEAR(s, std::sqrt(2.0 / 288), 0.03 * std::sqrt(2.0 / 288));
  EXPECT_NEAR(m, 0, 0.01);
  init::xavier_uniform_(w, gen);
  moments(w, &m, &s, &mx);
  double xb = std::sqrt(6.0 / (144 + 288));
  EXPECT_LE(mx, xb);
  EXPECT_NEAR(s, xb / std::sqrt(3.0), 0.02 * xb);
  init::normal_(w, gen, 1.0, 0.01);
  moments(w, &m, &s, &mx);
  EXPECT_NEAR(m, 1.0, 1e-3);
  EXPECT_NEAR(s, 0.01, 5e-4);
  init::constant_(w, 0.5);
  moments(w, &m, &s, &mx);
  EXPECT_EQ(m, 0.5);
  EXPECT_EQ(s, 0.0);
}

TEST(Init, SeededAndKeepsRequiresGrad) {
  Generator g1(3), g2(3);
  Tensor a = Tensor::empty({4, 5}).set_requires_grad(), b = Tensor::empty({4, 5});
  init::kaiming_uniform_(a, g1);
  init::kaiming_uniform_(b, g2);
  EXPECT_ALLCLOSE(a, b, 0, 0);
  EXPECT_TRUE(a.requires_grad());
  init::kaiming_uniform_(b, g2);  // the generator advanced: different values
  EXPECT_GT(vps::testing::allclose_ratio(a, b, 0, 0), 1.0);
}

TEST(Init, LinearDefaultInitBounds) {
  Generator gen(1);
  nn::Linear lin(50, 20, gen);
  double m, s, mx, bound = 1.0 / std::sqrt(50.0);
  moments(lin.weight, &m, &s, &mx);
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.9 * bound);
  moments(lin.bias, &m, &s, &mx);
  EXPECT_LE(mx, bound);
  EXPECT_EQ(lin.weight.shape(), (Shape{20, 50}));
}
