#include <gtest/gtest.h>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::rnd;

TEST(Autograd, ChainRuleAndAccumulation) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3}).set_requires_grad();
  Tensor y = sum(mul(x, x));  // dy/dx = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
  sum(mul(x, 3.0)).backward();  // adds 3
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7, 9}));
}

TEST(Autograd, DiamondGraphSumsBothPaths) {
  Tensor x = Tensor::from_vector<double>({2}, {1}).set_requires_grad();
  Tensor a = mul(x, 3.0), b = exp(x);
  Tensor y = sum(add(mul(a, b), a));  // 3x e^x + 3x -> 3e^x + 3x e^x + 3
  y.backward();
  double e = std::exp(2.0);
  EXPECT_NEAR(x.grad().item<double>(), 3 * e + 6 * e + 3, 1e-9);
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor x = rnd({4}, 1).set_requires_grad();
  Tensor y = sum(mul(x, x));
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
  Tensor z = sum(mul(x, x));
  z.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_NO_THROW(z.backward());
}

TEST(Autograd, InPlaceOnTensorRequiringGradIsRefused) {
  Tensor x = rnd({3}, 2).set_requires_grad();
  EXPECT_THROW(x.fill_(0), Error);
  {
    autograd::NoGradGuard ng;
    EXPECT_NO_THROW(x.fill_(1));  // optimizer-style update
  }
  // Modifying a tensor saved for backward is caught at backward time.
  Tensor w = rnd({3}, 3);
  Tensor y = sum(mul(x, w));
  w.fill_(5);
  EXPECT_THROW(y.backward(), Error);
}

TEST(Autograd, NoGradDetachAndRequiresGrad) {
  Tensor x = rnd({3}, 4).set_requires_grad();
  {
    autograd::NoGradGuard ng;
    EXPECT_FALSE(mul(x, x).requires_grad());
  }
  EXPECT_TRUE(mul(x, x).requires_grad());
  EXPECT_FALSE(x.detach().requires_grad());
  EXPECT_FALSE(mul(x.detach(), 2.0).requires_grad());
  EXPECT_THROW(sum(x.detach()).backward(), Error);
  EXPECT_THROW(mul(x, x).backward(), Error);  // non-scalar without seed
  EXPECT_THROW(Tensor::zeros({2}, DType::i64).set_requires_grad(), Error);
}

TEST(Autograd, RetainGradOnIntermediate) {
  Tensor x = rnd({3}, 5).set_requires_grad();
  Tensor h = mul(x, 2.0);
  h.retain_grad();
  sum(mul(h, h)).backward();
  EXPECT_EQ(h.grad().to_vector<double>(), mul(h, 2.0).to_vector<double>());
}

TEST(Autograd, GradcheckCatchesAWrongGradient) {
  // A function whose "gradient" is deliberately wrong: detach one factor.
  auto wrong = [](const std::vector<Tensor>& in) { return sum(mul(in[0], in[0].detach())); };
  std::string r = vps::testing::gradcheck_report(
      [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{wrong(in)}; }, {rnd({5}, 6)});
  EXPECT_FALSE(r.empty());
}

TEST(Autograd, ViewOpsGradcheck) {
  auto f = [](const std::vector<Tensor>& in) {
    Tensor x = in[0];
    Tensor p = permute(x, {2, 0, 1});
    Tensor s = slice(p, 0, 1, 4, 2);
    Tensor e = expand(unsqueeze(select(x, 1, 1), 0), {2, 2, 4});
    return mul(reshape(s, {2, 2, 3}), sum(e, {2}, true));
  };
  vps::testing::gradcheck(f, {rnd({2, 3, 4}, 7)});
}

TEST(Autograd, GraphWithoutBackwardIsFreedWhenItsOutputDies) {
  // exp saves its own output; that must not form a node -> tensor -> node cycle.
  Tensor x = rnd({3}, 8).set_requires_grad();
  std::weak_ptr<autograd::Node> node;
  {
    Tensor y = div(exp(x), 2.0);
    node = y.grad_fn();
    ASSERT_FALSE(node.expired());
  }
  EXPECT_TRUE(node.expired());
}

// Gradients that nothing else holds become .grad without a copy; any gradient that shares memory with
// a seed, a saved tensor or another gradient is copied, so later in-place accumulation touches only .grad.
TEST(Autograd, AccumulationNeverWritesIntoSharedGradients) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3}).set_requires_grad();
  Tensor seed = Tensor::from_vector<double>({1, 1, 1}, {3});
  reshape(x, {3}).backward(seed);  // x.grad arrives as a view of the user's seed
  reshape(x, {3}).backward(seed);  // accumulates in place into x.grad
  EXPECT_EQ(seed.to_vector<double>(), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 2, 2}));

  Tensor z = Tensor::from_vector<double>({1, 2}, {2}).set_requires_grad();
  Tensor w = Tensor::from_vector<double>({3, 4}, {2}).set_requires_grad();
  sum(add(z, w)).backward();  // add's backward may hand one tensor to both inputs
  sum(mul(z, 2.0)).backward();
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{3, 3}));
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{1, 1}));

  Tensor u = Tensor::from_vector<double>({1, 2}, {2}).set_requires_grad();
  Tensor s = sum(mul(u, u));  // fresh gradient 2u: taken without a copy, then accumulated into
  s.backward();
  sum(mul(u, 3.0)).backward();
  EXPECT_EQ(u.grad().to_vector<double>(), (std::vector<double>{5, 7}));
}
