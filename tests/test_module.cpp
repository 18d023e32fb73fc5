#include <gtest/gtest.h>

#include "autograd/grad_mode.h"
#include "layers/group_norm.h"
#include "layers/module.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::rnd;

namespace {

struct Leaf : nn::Module {
  Tensor weight, bias, running;
  Leaf(int n, uint64_t seed) {
    weight = rnd({n}, seed).to(DType::f32);
    bias = Tensor::zeros({n});
    running = Tensor::ones({n});
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
    register_buffer("running", &running);
  }
  std::string type_name() const override { return "Leaf"; }
};

struct Two : nn::Module {
  Tensor scale;
  std::shared_ptr<Leaf> a, b;
  Two() {
    scale = Tensor::ones({1});
    register_parameter("scale", &scale);
    a = register_module("a", std::make_shared<Leaf>(3, 1));
    b = register_module("b", std::make_shared<Leaf>(2, 2));
  }
  std::string type_name() const override { return "Two"; }
};

std::vector<std::string> names(const nn::NamedTensors& v) {
  std::vector<std::string> out;
  for (auto& p : v) out.push_back(p.first);
  return out;
}

}  // namespace

TEST(Module, HierarchicalNamesInRegistrationOrder) {
  Two m;
  EXPECT_EQ(names(m.named_parameters()),
            (std::vector<std::string>{"scale", "a.weight", "a.bias", "b.weight", "b.bias"}));
  EXPECT_EQ(names(m.named_buffers()), (std::vector<std::string>{"a.running", "b.running"}));
  EXPECT_EQ(names(m.state_dict()), (std::vector<std::string>{"scale", "a.weight", "a.bias", "a.running",
                                                             "b.weight", "b.bias", "b.running"}));
  EXPECT_EQ(m.parameters().size(), 5u);
  for (auto& p : m.parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_FALSE(m.a->running.requires_grad());
  EXPECT_EQ(m.type_name(), "Two");
  EXPECT_EQ(m.child("b")->type_name(), "Leaf");
}

TEST(Module, RegistryPointsAtMembers) {
  Two m;
  // Replacing a member is seen through the registry (it holds the field's address).
  m.a->bias = Tensor::full({3}, 7.0).set_requires_grad();
  auto sd = m.state_dict();
  EXPECT_EQ(sd[2].second.to_vector<float>(), (std::vector<float>{7, 7, 7}));
}

TEST(Module, TrainEvalRecursive) {
  Two m;
  EXPECT_TRUE(m.is_training());
  m.eval();
  EXPECT_FALSE(m.is_training());
  EXPECT_FALSE(m.a->is_training());
  EXPECT_FALSE(m.b->is_training());
  m.train();
  EXPECT_TRUE(m.b->is_training());
}

TEST(Module, FreezeByRegexAndZeroGrad) {
  Two m;
  EXPECT_EQ(m.set_requires_grad("^a\\.", false), 2);
  EXPECT_FALSE(m.a->weight.requires_grad());
  EXPECT_FALSE(m.a->bias.requires_grad());
  EXPECT_TRUE(m.b->weight.requires_grad());
  EXPECT_EQ(m.set_requires_grad("running", false), 0);  // buffers are not parameters
  Tensor y = sum(mul(m.b->weight, m.scale));
  y.backward();
  EXPECT_TRUE(m.b->weight.grad().defined());
  EXPECT_FALSE(m.a->weight.grad().defined());
  m.zero_grad();
  EXPECT_FALSE(m.b->weight.grad().defined());
  EXPECT_FALSE(m.scale.grad().defined());
}

TEST(Module, LoadStateDictAndErrors) {
  Two m, n;
  std::map<std::string, Tensor> sd;
  for (auto& kv : m.state_dict()) sd[kv.first] = kv.second.clone().fill_(3);
  n.load_state_dict(sd);
  EXPECT_EQ(n.b->running.to_vector<float>(), (std::vector<float>{3, 3}));
  EXPECT_TRUE(n.b->weight.requires_grad());
  sd["a.weight"] = Tensor::zeros({4});
  try {
    n.load_state_dict(sd);
    FAIL() << "expected a shape error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a.weight"), std::string::npos) << e.what();
  }
  sd.erase("a.weight");
  EXPECT_THROW(n.load_state_dict(sd), Error);
  auto missing = n.load_state_dict(sd, /*strict=*/false);
  EXPECT_EQ(missing, (std::vector<std::string>{"a.weight"}));
  EXPECT_THROW(m.child("zz"), Error);
}

TEST(Module, ToDeviceKeepsRequiresGrad) {
  Two m;
  m.set_requires_grad("^b\\.weight$", false);
  m.to(kCPU);  // same device: no-op
  EXPECT_TRUE(m.a->weight.requires_grad());
  VPS_REQUIRE_CUDA();
  m.to(cuda_device());
  EXPECT_TRUE(m.a->weight.device().is_cuda());
  EXPECT_TRUE(m.a->running.device().is_cuda());
  EXPECT_TRUE(m.a->weight.requires_grad());
  EXPECT_FALSE(m.b->weight.requires_grad());
  EXPECT_TRUE(m.named_parameters()[1].second.device().is_cuda());
}

// ---- the modules of layers/norm_modules.h ----
#include "layers/batch_norm.h"
#include "layers/norm_modules.h"

TEST(NormModules, BatchNorm2dNamesTrainEvalFrozen) {
  nn::BatchNorm2d bn(3);
  EXPECT_EQ(names(bn.state_dict()), (std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                                              "num_batches_tracked"}));
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::i64);
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  Tensor x = rnd({2, 3, 2, 2}, 5).to(DType::f32);
  Tensor y = bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked.item_double(), 1);
  EXPECT_ALLCLOSE(y, batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true), 1e-6, 1e-5);
  Tensor rm = bn.running_mean.clone();
  bn.eval();
  Tensor ye = bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked.item_double(), 1);
  EXPECT_ALLCLOSE(bn.running_mean, rm, 0, 0);
  EXPECT_ALLCLOSE(ye, batch_norm(x, Tensor(), Tensor(), rm, bn.running_var, false), 1e-6, 1e-5);
  bn.train();
  bn.set_frozen(true);
  EXPECT_FALSE(bn.weight.requires_grad());
  bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked.item_double(), 1);  // frozen: running statistics only
  EXPECT_ALLCLOSE(bn.running_mean, rm, 0, 0);
}

TEST(NormModules, GroupNormAndLinear) {
  nn::GroupNorm gn(2, 4);
  EXPECT_EQ(names(gn.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  Tensor x = rnd({2, 4, 3}, 6).to(DType::f32);
  EXPECT_ALLCLOSE(gn.forward(x), group_norm(x, 2, Tensor(), Tensor()), 1e-6, 1e-5);
  EXPECT_THROW(nn::GroupNorm(3, 4), Error);
  Generator gen(1);
  nn::Linear lin(3, 2, gen);
  EXPECT_EQ(names(lin.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  Tensor in = rnd({5, 3}, 7).to(DType::f32);
  Tensor out = lin.forward(in);
  EXPECT_EQ(out.shape(), (Shape{5, 2}));
  auto xv = in.to_vector<float>(), wv = lin.weight.to_vector<float>(), bv = lin.bias.to_vector<float>();
  EXPECT_NEAR(out.to_vector<float>()[1], xv[0] * wv[3] + xv[1] * wv[4] + xv[2] * wv[5] + bv[1], 1e-5);
}
