// Golden test against PyTorch (tools/fixtures/make_mlp_fixture.py): a 6 -> 8 -> 3 tanh MLP in float64
// with an MSE loss. Forward loss and every parameter gradient within 1e-10; 50 steps of plain
// gradient descent (lr 0.1) follow torch's loss trajectory (final loss within 1e-8).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "autograd/grad_mode.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"
#include "tests/npy_read.h"

using namespace vps;

namespace {

Tensor load(const std::string& name) { return vps::testing::read_npy_f64("tests/fixtures/mlp/" + name + ".npy"); }

struct Mlp {
  std::map<std::string, Tensor> p;
  Mlp() {
    for (const char* k : {"w1", "b1", "w2", "b2"}) p[k] = load(k).set_requires_grad();
  }
  Tensor loss(const Tensor& x, const Tensor& t) {
    Tensor h = tanh(linear(x, p["w1"], p["b1"]));
    Tensor d = sub(linear(h, p["w2"], p["b2"]), t);
    return mean(mul(d, d));
  }
};

}  // namespace

TEST(MlpGolden, ForwardLossAndGradientsMatchTorch) {
  Mlp m;
  Tensor x = load("x"), t = load("t");
  Tensor loss = m.loss(x, t);
  EXPECT_NEAR(loss.item<double>(), load("loss").item<double>(), 1e-10);
  loss.backward();
  for (auto& [k, v] : m.p) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(v.grad().defined());
    EXPECT_ALLCLOSE(v.grad(), load("g_" + k), 1e-10, 0);
  }
}

TEST(MlpGolden, FiftyStepsOfGradientDescentReachTorchLoss) {
  Mlp m;
  Tensor x = load("x"), t = load("t");
  std::vector<double> want = load("train_losses").to_vector<double>();
  ASSERT_EQ(want.size(), 51u);
  const double lr = 0.1;
  for (int s = 0; s < 50; ++s) {
    Tensor loss = m.loss(x, t);
    EXPECT_NEAR(loss.item<double>(), want[size_t(s)], 1e-10) << "step " << s;
    loss.backward();
    autograd::NoGradGuard ng;
    for (auto& [k, v] : m.p) {
      v.copy_(sub(v, mul(v.grad(), lr)));
      v.zero_grad();
    }
  }
  autograd::NoGradGuard ng;
  double final_loss = m.loss(x, t).item<double>();
  EXPECT_NEAR(final_loss, want[50], 1e-8);
  EXPECT_LT(final_loss, want[0]);
}

TEST(MlpGolden, NpyReaderRejectsBadFiles) {
  EXPECT_THROW(vps::testing::read_npy_f64("tests/fixtures/mlp/missing.npy"), Error);
  EXPECT_THROW(vps::testing::read_npy_f64("Makefile"), Error);
}
