// ResNet / FPN structure (mmdet and torchvision key names and shapes), norm_eval, frozen stages,
// out_indices, bad inputs; the model registry and configs; the torchvision rename map.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "models/backbone/resnet_fpn.h"
#include "models/weights_io.h"
#include "tensor/io/convert.h"
#include "tensor/io/safetensors.h"
#include "tests/backbone_test_util.h"
#include "tests/gradcheck.h"
#include "tests/weights_test_util.h"

using namespace vps;
using namespace vps::models;
using models::ResNet;
using models::ResNetOptions;

namespace {

ResNetOptions tiny(int depth, int frozen = -1, bool norm_eval = true) {
  ResNetOptions o;
  o.depth = depth;
  o.base_width = 4;
  o.frozen_stages = frozen;
  o.norm_eval = norm_eval;
  return o;
}

std::map<std::string, std::vector<int64_t>> torchvision_keys() {
  std::ifstream f("tests/fixtures/backbone/torchvision_resnet50_keys.json");
  nlohmann::json j = nlohmann::json::parse(f);
  std::map<std::string, std::vector<int64_t>> out;
  for (auto& e : j) out[e[0].get<std::string>()] = e[1].get<std::vector<int64_t>>();
  return out;
}

// The full-size ResNet-50-FPN of configs/resnet50_fpn.json, built once (initialising 25M parameters
// takes seconds on a loaded 2-core machine).
std::shared_ptr<nn::Module> full_model() {
  static std::shared_ptr<nn::Module> m = models::build_module_from_file("configs/resnet50_fpn.json");
  return m;
}

Tensor bn_tensor(nn::Module& m, const std::string& name) {
  for (auto& kv : m.state_dict())
    if (kv.first == name) return kv.second.clone();
  ADD_FAILURE() << "no key " << name;
  return Tensor();
}

}  // namespace

// Full-size ResNet-50: exactly torchvision's keys and shapes, fc excepted (torchvision_resnet50_keys.json
// is written by tests/fixtures/backbone/make_backbone.py from torchvision.models.resnet50()).
TEST(BackboneModel, ResNet50KeysAndShapesAreTorchvisions) {
  auto want = torchvision_keys();
  want.erase("fc.weight");
  want.erase("fc.bias");
  auto* net = dynamic_cast<models::ResNetFPN*>(full_model().get());
  ASSERT_NE(net, nullptr);
  auto got = models::expected_shapes(*net->backbone);
  EXPECT_EQ(got, want);
  EXPECT_EQ(net->backbone->out_channels(), (std::vector<int64_t>{256, 512, 1024, 2048}));
}

TEST(BackboneModel, DepthsAndBlockTypes) {
  auto keys = [](int depth) { return models::expected_shapes(ResNet(tiny(depth))); };
  auto k18 = keys(18), k34 = keys(34), k101 = keys(101);
  EXPECT_TRUE(k18.count("layer4.1.conv2.weight") && !k18.count("layer4.1.conv3.weight"));
  EXPECT_FALSE(k18.count("layer1.0.downsample.0.weight"));  // BasicBlock layer1: same width, stride 1
  EXPECT_EQ(k18.at("layer2.0.downsample.0.weight"), (std::vector<int64_t>{8, 4, 1, 1}));
  EXPECT_TRUE(k34.count("layer3.5.conv2.weight") && !k34.count("layer3.6.conv2.weight"));
  EXPECT_TRUE(k101.count("layer3.22.conv3.weight") && !k101.count("layer3.23.conv3.weight"));
  EXPECT_EQ(k101.at("layer2.0.conv2.weight"), (std::vector<int64_t>{8, 8, 3, 3}));  // stride on the 3x3
  EXPECT_EQ(ResNet(tiny(34)).out_channels(), (std::vector<int64_t>{4, 8, 16, 32}));
}

TEST(BackboneModel, OutputShapesAndStrides) {
  auto net = models::build_resnet_fpn(models::load_config("configs/resnet_fpn_tiny.json"));
  auto outs = net->forward(vps::testing::rnd({1, 3, 64, 96}, 1).to(DType::f32));
  std::vector<std::string> names;
  for (auto& [n, t] : outs) names.push_back(n + shape_str(t.shape()));
  EXPECT_EQ(names, (std::vector<std::string>{"C2[1, 32, 16, 24]", "C3[1, 64, 8, 12]", "C4[1, 128, 4, 6]",
                                             "C5[1, 256, 2, 3]", "P2[1, 16, 16, 24]", "P3[1, 16, 8, 12]",
                                             "P4[1, 16, 4, 6]", "P5[1, 16, 2, 3]", "P6[1, 16, 1, 2]"}));
  ResNetOptions o = tiny(18);
  o.out_indices = {1, 3};
  ResNet r(o);
  auto c = r.forward(vps::testing::rnd({1, 3, 32, 32}, 2).to(DType::f32));
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].shape(), (Shape{1, 8, 4, 4}));
  EXPECT_EQ(c[1].shape(), (Shape{1, 32, 1, 1}));
  EXPECT_EQ(r.out_channels(), (std::vector<int64_t>{8, 32}));
}

// norm_eval: train() leaves every BN on running statistics (never updated); gamma/beta still get gradients.
TEST(BackboneModel, NormEvalKeepsRunningStatistics) {
  for (bool norm_eval : {true, false}) {
    ResNet net(tiny(18, -1, norm_eval));
    net.train();
    Tensor before = bn_tensor(net, "layer2.0.bn1.running_mean");
    auto c = net.forward(vps::testing::rnd({2, 3, 32, 32}, 3).to(DType::f32));
    sum(c.back()).backward();
    Tensor after = bn_tensor(net, "layer2.0.bn1.running_mean");
    double diff = vps::testing::allclose_ratio(after, before, 1e-12, 0);
    if (norm_eval) {
      EXPECT_LE(diff, 1.0) << "norm_eval must not update running_mean";
      EXPECT_EQ(bn_tensor(net, "layer2.0.bn1.num_batches_tracked").item_double(), 0);
    } else {
      EXPECT_GT(diff, 1.0) << "without norm_eval train() updates running_mean";
    }
    for (auto& [n, p] : net.named_parameters()) {
      if (n == "layer2.0.bn1.weight") {
        EXPECT_TRUE(p.grad().defined());
      }
    }
  }
}

// frozen_stages=1: stem and layer1 get no gradient and keep their statistics even with norm_eval off.
TEST(BackboneModel, FrozenStages) {
  ResNet net(tiny(50, 1, false));
  for (auto& [n, p] : net.named_parameters()) {
    bool frozen = n.rfind("conv1.", 0) == 0 || n.rfind("bn1.", 0) == 0 || n.rfind("layer1.", 0) == 0;
    EXPECT_EQ(p.requires_grad(), !frozen) << n;
  }
  net.train();
  Tensor l1 = bn_tensor(net, "layer1.0.bn2.running_var"), l2 = bn_tensor(net, "layer2.0.bn2.running_var");
  Tensor stem = bn_tensor(net, "bn1.running_mean");
  auto c = net.forward(vps::testing::rnd({2, 3, 32, 32}, 4).to(DType::f32));
  sum(c.back()).backward();
  EXPECT_LE(vps::testing::allclose_ratio(bn_tensor(net, "layer1.0.bn2.running_var"), l1, 1e-12, 0), 1.0);
  EXPECT_LE(vps::testing::allclose_ratio(bn_tensor(net, "bn1.running_mean"), stem, 1e-12, 0), 1.0);
  EXPECT_GT(vps::testing::allclose_ratio(bn_tensor(net, "layer2.0.bn2.running_var"), l2, 1e-12, 0), 1.0);
  for (auto& [n, p] : net.named_parameters()) {
    if (n == "layer1.0.conv1.weight") {
      EXPECT_FALSE(p.grad().defined());
    }
    if (n == "layer2.0.conv1.weight") {
      EXPECT_TRUE(p.grad().defined());
    }
  }
}

TEST(BackboneModel, BadOptionsAndInputs) {
  test::expect_error([] { ResNet r(tiny(42)); }, {"ResNet", "depth", "42"});
  test::expect_error([] {
    ResNetOptions o = tiny(18);
    o.out_indices = {2, 1};
    ResNet r(o);
  }, {"ResNet", "out_indices"});
  ResNet r(tiny(18));
  test::expect_error([&] { r.forward(Tensor::zeros({1, 4, 32, 32})); }, {"ResNet", "[1, 4, 32, 32]"});
  models::FPNOptions fo;
  fo.in_channels = {8, 16};
  fo.out_channels = 4;
  models::FPN fpn(fo);
  test::expect_error([&] { fpn.forward({Tensor::zeros({1, 8, 4, 4})}); }, {"FPN", "expected 2 input maps"});
  test::expect_error([&] { fpn.forward({Tensor::zeros({1, 8, 4, 4}), Tensor::zeros({1, 15, 2, 2})}); },
                     {"FPN", "[1, 15, 2, 2]"});
}

TEST(BackboneRegistry, BuildsFromConfigAndNamesBadKeys) {
  auto names = models::registered_models();
  EXPECT_TRUE(std::set<std::string>(names.begin(), names.end()).count("ResNetFPN"));
  auto sd = models::expected_shapes(*full_model());
  EXPECT_EQ(sd.at("backbone.layer4.2.conv3.weight"), (std::vector<int64_t>{2048, 512, 1, 1}));
  EXPECT_EQ(sd.at("neck.lateral_convs.3.conv.weight"), (std::vector<int64_t>{256, 2048, 1, 1}));
  EXPECT_EQ(sd.at("neck.fpn_convs.0.conv.bias"), (std::vector<int64_t>{256}));

  test::expect_error([] { models::build_module({{"type", "NoSuchNet"}}); }, {"NoSuchNet", "ResNetFPN"});
  test::expect_error([] { models::build_module({{"type", "ResNetFPN"}, {"backbone", {{"dpeth", 50}}}}); },
                     {"backbone", "unknown key 'dpeth'"});
  test::expect_error([] { models::build_module({{"type", "ResNet"}, {"depth", "50"}}); }, {"depth", "integer"});
  test::expect_error([] { models::build_model({{"type", "ResNetFPN"}}); }, {"ResNetFPN", "not a trainable model", "MaskRCNN"});
  test::expect_error([] { models::register_module("ResNet", [](const nlohmann::json&) { return nullptr; }); },
                     {"ResNet", "twice"});
  test::TempDir dir;
  std::string bad = dir.file("bad.json");
  test::write_bytes(bad, test::bytes_of("{\"type\": \"ResNetFPN\", "));
  test::expect_error([&] { models::load_config(bad); }, {bad, "JSON"});
  std::string typo = dir.file("typo.json");
  test::write_bytes(typo, test::bytes_of("{\"type\": \"ResNetFPN\", \"neck\": {\"out_channel\": 8}}"));
  test::expect_error([&] { models::build_module_from_file(typo); }, {typo, "neck", "out_channel"});
  models::register_module("BackboneTestDummy", [](const nlohmann::json& c) -> std::shared_ptr<nn::Module> {
    return std::make_shared<ResNet>(models::resnet_options_from_json(c, "dummy"));
  });
  EXPECT_EQ(models::build_module({{"type", "BackboneTestDummy"}, {"depth", 18}, {"base_width", 2}})->type_name(),
            "ResNet");
}

// A torchvision ResNet-50 checkpoint (its real key names and shapes, zero float16 values to keep the
// temporary file at 51 MB) converted with the shipped rename map, as `vps convert --rename`, loads into
// the full-size ResNet-50-FPN: nothing unexpected, nothing mis-shaped, exactly the neck's keys missing.
TEST(BackboneRegistry, TorchvisionCheckpointLoadsThroughRenameMap) {
  NamedArrays arrays;
  for (auto& [name, shape] : torchvision_keys()) {
    RawArray a;
    a.dtype = name.find("num_batches_tracked") != std::string::npos ? DType::i64 : DType::f16;
    a.shape = shape;
    a.data.assign(size_t(a.numel()) * dtype_size(a.dtype), 0);
    arrays.emplace_back(name, std::move(a));
  }
  test::TempDir dir;
  write_safetensors(dir.file("tv.safetensors"), arrays);
  arrays.clear();
  ConvertOptions co;
  co.renames = read_rename_map("configs/torchvision_resnet_rename.json");
  ConvertSummary cs = convert_weights(dir.file("tv.safetensors"), dir.file("ours.safetensors"), co);
  EXPECT_EQ(cs.tensors, 318u);  // 320 minus fc.weight, fc.bias
  auto model = full_model();
  models::LoadOptions lo;
  lo.strict = false;
  KeyReport r = models::load(*model, dir.file("ours.safetensors"), lo);
  EXPECT_TRUE(r.unexpected.empty()) << r.to_string();
  EXPECT_TRUE(r.mismatched.empty()) << r.to_string();
  std::vector<std::string> neck;
  for (auto& [n, s] : models::expected_shapes(*model))
    if (n.rfind("neck.", 0) == 0) neck.push_back(n);
  EXPECT_EQ(neck.size(), 16u);
  std::sort(r.missing.begin(), r.missing.end());
  EXPECT_EQ(r.missing, neck);
  test::expect_error([&] { models::load(*model, dir.file("ours.safetensors")); },
                     {"ours.safetensors", "16 missing", "neck.fpn_convs.3.conv.bias"});
}
