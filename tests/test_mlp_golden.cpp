// Golden test against PyTorch (tests/fixtures/mlp/make_mlp_fixture.py): a 6 -> 8 -> 3 tanh MLP in float64
// with two losses, MSE and NLL of log_softmax (labels picked with gather). Forward loss and every
// parameter gradient within 1e-10; 50 steps of plain gradient descent (lr 0.1) follow torch's loss
// trajectory (final loss within 1e-8).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "autograd/grad_mode.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;

namespace {

Tensor load(const std::string& name) { return vps::testing::read_npy_fixture("tests/fixtures/mlp/" + name + ".npy"); }

struct Mlp {
  std::map<std::string, Tensor> p;
  Tensor x = load("x"), t = load("t"), labels = load("labels");
  Mlp() {
    for (const char* k : {"w1", "b1", "w2", "b2"}) p[k] = load(k).set_requires_grad();
  }
  Tensor loss(const std::string& kind) {
    Tensor h = tanh(linear(x, p["w1"], p["b1"]));
    Tensor y = linear(h, p["w2"], p["b2"]);
    if (kind == "mse") {
      Tensor d = sub(y, t);
      return mean(mul(d, d));
    }
    Tensor picked = gather(log_softmax(y, 1), 1, labels.reshape({-1, 1}));
    return neg(mean(picked));
  }
};

class MlpGolden : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(MlpGolden, ForwardLossAndGradientsMatchTorch) {
  const std::string kind = GetParam();
  Mlp m;
  Tensor loss = m.loss(kind);
  EXPECT_NEAR(loss.item<double>(), load("loss_" + kind).item<double>(), 1e-10);
  loss.backward();
  for (auto& [k, v] : m.p) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(v.grad().defined());
    EXPECT_ALLCLOSE(v.grad(), load("g_" + kind + "_" + k), 1e-10, 0);
  }
}

TEST_P(MlpGolden, FiftyStepsOfGradientDescentReachTorchLoss) {
  const std::string kind = GetParam();
  Mlp m;
  std::vector<double> want = load("train_" + kind).to_vector<double>();
  ASSERT_EQ(want.size(), 51u);
  const double lr = 0.1;
  for (int s = 0; s < 50; ++s) {
    Tensor loss = m.loss(kind);
    EXPECT_NEAR(loss.item<double>(), want[size_t(s)], 1e-10) << "step " << s;
    loss.backward();
    autograd::NoGradGuard ng;
    for (auto& [k, v] : m.p) {
      v.copy_(sub(v, mul(v.grad(), lr)));
      v.zero_grad();
    }
  }
  autograd::NoGradGuard ng;
  double final_loss = m.loss(kind).item<double>();
  EXPECT_NEAR(final_loss, want[50], 1e-8);
  EXPECT_LT(final_loss, want[0]);
}

INSTANTIATE_TEST_SUITE_P(Losses, MlpGolden, ::testing::Values("mse", "nll"));
