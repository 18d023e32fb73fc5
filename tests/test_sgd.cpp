#include <gtest/gtest.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "train/sgd.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::fixture;
using vps::testing::rnd;

namespace {

struct Tiny : nn::Module {
  Tensor w1, w2, b;
  Tiny() {
    w1 = fixture("nn", "sgd_w1");
    w2 = fixture("nn", "sgd_w2");
    b = fixture("nn", "sgd_b");
    register_parameter("w1", &w1);
    register_parameter("w2", &w2);
    register_parameter("b", &b);
  }
  Tensor loss(const Tensor& x, const Tensor& t) {
    Tensor pred = add(sum(mul(tanh(mul(x, w1)), w2), {1}), b);
    Tensor d = sub(pred, t);
    return mean(mul(d, d));
  }
};

}  // namespace

TEST(SGD, GoldenThreeStepsMomentumWeightDecay) {
  Tiny m;
  Tensor x = fixture("nn", "sgd_x"), t = fixture("nn", "sgd_t");
  train::SGD opt(m.named_parameters(), {0.1, 0.9, 0, 0.01, false});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    m.loss(x, t).backward();
    opt.step();
    std::string s = "sgd_step" + std::to_string(step) + "_";
    EXPECT_ALLCLOSE(m.w1, fixture("nn", s + "w1"), 1e-12, 1e-10) << step;
    EXPECT_ALLCLOSE(m.w2, fixture("nn", s + "w2"), 1e-12, 1e-10) << step;
    EXPECT_ALLCLOSE(m.b, fixture("nn", s + "b"), 1e-12, 1e-10) << step;
  }
  EXPECT_EQ(opt.iteration(), 3);
}

TEST(SGD, HandComputedUpdates) {
  // p = 1, constant grad 2, lr 0.5, momentum 0.5, dampening 0.5, wd 0.1: g = 2.1 (then 2 + 0.1 p).
  Tensor p = Tensor::full({1}, 1.0, DType::f64).set_requires_grad();
  train::SGD opt({{"p", p}}, {0.5, 0.5, 0.5, 0.1, false});
  p.set_grad(Tensor::full({1}, 2.0, DType::f64));
  opt.step();  // buf = 2.1 (first step: buf = g, no dampening); p = 1 - 1.05
  double pv = 1 - 0.5 * 2.1, buf = 2.1;
  EXPECT_NEAR(p.item<double>(), pv, 1e-14);
  opt.step();
  double g = 2 + 0.1 * pv;
  buf = 0.5 * buf + 0.5 * g;
  pv -= 0.5 * buf;
  EXPECT_NEAR(p.item<double>(), pv, 1e-14);
  // Nesterov: p -= lr * (g + momentum * buf)
  Tensor q = Tensor::full({1}, 1.0, DType::f64).set_requires_grad();
  train::SGD nes({{"q", q}}, {0.1, 0.9, 0, 0, true});
  q.set_grad(Tensor::full({1}, 1.0, DType::f64));
  nes.step();
  EXPECT_NEAR(q.item<double>(), 1 - 0.1 * (1 + 0.9 * 1), 1e-14);
  // Parameters without a gradient are skipped.
  Tensor r = Tensor::full({1}, 3.0, DType::f64).set_requires_grad();
  train::SGD none({{"r", r}}, {0.1, 0.9, 0, 0.1, false});
  none.step();
  EXPECT_EQ(r.item<double>(), 3.0);
}

TEST(SGD, StateDictRoundTripResumesIdentically) {
  Tensor x = fixture("nn", "sgd_x"), t = fixture("nn", "sgd_t");
  Tiny a, b;
  train::SGD oa(a.named_parameters(), {0.1, 0.9, 0, 0.01, false});
  for (int i = 0; i < 2; ++i) {
    oa.zero_grad();
    a.loss(x, t).backward();
    oa.step();
  }
  // Copy model and optimizer state into b, then take one more step on both.
  std::map<std::string, Tensor> msd;
  for (auto& kv : a.state_dict()) msd[kv.first] = kv.second.detach().clone();
  b.load_state_dict(msd);
  auto sd = oa.state_dict();
  EXPECT_EQ(sd.size(), 4u);
  EXPECT_TRUE(sd.count("momentum_buffer.w1"));
  EXPECT_EQ(sd["iteration"].item_double(), 2);
  train::SGD ob(b.named_parameters(), {0.1, 0.9, 0, 0.01, false});
  ob.load_state_dict(sd);
  EXPECT_EQ(ob.iteration(), 2);
  oa.zero_grad();
  a.loss(x, t).backward();
  oa.step();
  ob.zero_grad();
  b.loss(x, t).backward();
  ob.step();
  EXPECT_ALLCLOSE(a.w1, b.w1, 0, 0);
  EXPECT_ALLCLOSE(a.b, b.b, 0, 0);
  sd["momentum_buffer.zz"] = Tensor::zeros({1});
  EXPECT_THROW(ob.load_state_dict(sd), Error);
  sd.erase("momentum_buffer.zz");
  sd["momentum_buffer.w1"] = Tensor::zeros({2});
  EXPECT_THROW(ob.load_state_dict(sd), Error);
}

TEST(SGD, ClipGradNorm) {
  Tensor a = Tensor::zeros({2}, DType::f64).set_requires_grad(), b = Tensor::zeros({1}, DType::f64).set_requires_grad();
  Tensor c = Tensor::zeros({1}, DType::f64).set_requires_grad();  // no grad: ignored
  a.set_grad(Tensor::from_vector<double>({3, 0}, {2}));
  b.set_grad(Tensor::from_vector<double>({4}, {1}));
  double total = train::clip_grad_norm({a, b, c}, 1.0);
  EXPECT_NEAR(total, 5.0, 1e-12);
  EXPECT_NEAR(a.grad().to_vector<double>()[0], 3.0 / (5 + 1e-6), 1e-12);
  EXPECT_NEAR(b.grad().item<double>(), 4.0 / (5 + 1e-6), 1e-12);
  double again = train::clip_grad_norm({a, b, c}, 10.0);  // below the limit: unchanged
  EXPECT_NEAR(again, 1.0, 1e-6);
  EXPECT_NEAR(b.grad().item<double>(), 4.0 / (5 + 1e-6), 1e-12);
}

TEST(SGD, LrScheduleWarmupAndSteps) {
  train::LrSchedule s;
  s.base_lr = 0.02;
  s.warmup_iters = 500;
  s.warmup_ratio = 1.0 / 3;
  s.steps = {1000, 2000};
  s.gamma = 0.1;
  EXPECT_NEAR(s.lr_at(0), 0.02 / 3, 1e-15);
  EXPECT_NEAR(s.lr_at(250), 0.02 * (1.0 / 3 + 2.0 / 3 * 0.5), 1e-15);
  EXPECT_NEAR(s.lr_at(500), 0.02, 1e-15);
  EXPECT_NEAR(s.lr_at(999), 0.02, 1e-15);
  EXPECT_NEAR(s.lr_at(1000), 0.002, 1e-15);
  EXPECT_NEAR(s.lr_at(2500), 0.0002, 1e-15);
}

TEST(SGD, BadOptions) {
  Tensor p = Tensor::zeros({1}, DType::f64).set_requires_grad();
  EXPECT_THROW(train::SGD({{"p", p}}, {-1, 0, 0, 0, false}), Error);
  EXPECT_THROW(train::SGD({{"p", p}}, {0.1, 0, 0, 0, true}), Error);
  EXPECT_THROW(train::SGD({{"i", Tensor::zeros({1}, DType::i64)}}, {0.1, 0, 0, 0, false}), Error);
}
