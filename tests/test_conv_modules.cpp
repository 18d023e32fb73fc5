#include <gtest/gtest.h>

#include <cmath>

#include "layers/conv_modules.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"

using namespace vps;

namespace {

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to(DType::f64).to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

}  // namespace

TEST(ConvModules, Conv2dParametersAndInit) {
  Generator gen(3);
  nn::ConvOptions o;
  o.in_channels = 8, o.out_channels = 6, o.kernel = {3, 3}, o.padding = {1, 1}, o.groups = 2;
  nn::Conv2d m(o, gen);
  auto p = m.named_parameters();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].first, "weight");
  EXPECT_EQ(p[1].first, "bias");
  EXPECT_EQ(m.weight.shape(), (Shape{6, 4, 3, 3}));
  EXPECT_EQ(m.bias.shape(), (Shape{6}));
  double bound = 1.0 / std::sqrt(4.0 * 9.0);  // kaiming_uniform(a=sqrt(5)) bound = 1/sqrt(fan_in)
  EXPECT_LE(max_abs(m.weight), bound);
  EXPECT_GT(max_abs(m.weight), 0.8 * bound);  // 216 draws fill the range
  EXPECT_LE(max_abs(m.bias), bound);
  Tensor x = Tensor::ones({1, 8, 5, 5});
  Tensor y = m.forward(x);
  EXPECT_EQ(y.shape(), (Shape{1, 6, 5, 5}));
  sum(y).backward();
  EXPECT_TRUE(m.weight.grad().defined());
  EXPECT_TRUE(m.bias.grad().defined());
}

TEST(ConvModules, ConvTranspose2dParametersAndShapes) {
  Generator gen(4);
  nn::ConvOptions o;
  o.in_channels = 4, o.out_channels = 6, o.kernel = {3, 3}, o.stride = {2, 2}, o.padding = {1, 1};
  o.output_padding = {1, 1}, o.bias = false;
  nn::ConvTranspose2d m(o, gen);
  auto p = m.named_parameters();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].first, "weight");
  EXPECT_EQ(m.weight.shape(), (Shape{4, 6, 3, 3}));
  EXPECT_LE(max_abs(m.weight), 1.0 / std::sqrt(6.0 * 9.0));  // fan_in = weight.size(1) * kh * kw
  EXPECT_EQ(m.forward(Tensor::ones({2, 4, 5, 5})).shape(), (Shape{2, 6, 10, 10}));
}

TEST(ConvModules, BadOptions) {
  Generator gen(1);
  nn::ConvOptions o;
  o.in_channels = 3, o.out_channels = 4, o.groups = 2;
  try {
    nn::Conv2d m(o, gen);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Conv2d"), std::string::npos) << e.what();
  }
}
