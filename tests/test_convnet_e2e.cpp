// End-to-end: a tiny conv net (conv, group_norm, relu, max_pool, linear, NLL of log_softmax) trained
// for 30 steps of SGD with momentum and weight decay on fixed data follows PyTorch's loss trajectory
// from the same initial weights (tests/fixtures/convnet/make_convnet_fixture.py).
#include <gtest/gtest.h>

#include "layers/conv2d.h"
#include "layers/group_norm.h"
#include "layers/pooling.h"
#include "train/sgd.h"
#include "ops/ops.h"
#include "tests/npy_fixture.h"

using namespace vps;

TEST(ConvNetEndToEnd, ThirtySgdStepsMatchPyTorchLosses) {
  auto fx = [](const char* n) { return vps::testing::fixture("convnet", n); };
  nn::NamedTensors params;
  for (const char* n : {"conv_w", "conv_b", "gn_w", "gn_b", "fc_w", "fc_b"})
    params.emplace_back(n, fx(n).set_requires_grad());
  Tensor x = fx("x");
  Tensor labels = vps::testing::read_npy_fixture("tests/fixtures/convnet/labels.npy").reshape({6, 1});
  std::vector<double> want = fx("losses").to_vector<double>();
  ASSERT_EQ(want.size(), 31u);

  train::SGDOptions o;
  o.lr = 0.05;
  o.momentum = 0.9;
  o.weight_decay = 1e-4;
  train::SGD opt(params, o);
  auto loss_of = [&] {
    const Tensor &cw = params[0].second, &cb = params[1].second, &gw = params[2].second, &gb = params[3].second,
                 &fw = params[4].second, &fb = params[5].second;
    Tensor h = conv2d(x, cw, cb, {1, 1}, {1, 1});
    h = relu(group_norm(h, 2, gw, gb));
    h = flatten(max_pool2d(h, {2, 2}), 1);
    Tensor logp = log_softmax(linear(h, fw, fb), 1);
    return neg(mean(gather(logp, 1, labels)));
  };
  for (int s = 0; s <= 30; ++s) {
    Tensor loss = loss_of();
    EXPECT_NEAR(loss.item<double>(), want[s], 1e-9 * (1 + want[s])) << "step " << s;
    if (s == 30) break;
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}
