// The UPSNet-style semantic head (models/vps/semantic_head.h): VPSNet's keys and shapes at full width, a
// PyTorch re-implementation with torchvision's deform_conv2d at reduced width (fcn_score, fcn_output,
// loss_segm and gradients; tests/fixtures/semantic/make_semantic_head.py), bad inputs.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "models/vps/semantic_head.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::error_of;

namespace {
Tensor sem(const std::string& name) { return vps::testing::fixture("semantic", name); }

models::SemanticHeadOptions small_options() {
  models::SemanticHeadOptions o;
  o.in_channels = 32, o.out_channels = 16, o.gn_groups = 4, o.dtype = DType::f64;
  return o;
}
}  // namespace

TEST(SemanticHead, KeysAndShapesAreVPSNets) {
  models::SemanticHead h(models::SemanticHeadOptions{});
  std::map<std::string, Shape> want = {
      {"deform_convs.0.0.conv_offset.weight", {18, 256, 3, 3}}, {"deform_convs.0.0.conv_offset.bias", {18}},
      {"deform_convs.0.0.conv.weight", {256, 256, 3, 3}},       {"deform_convs.0.1.weight", {256}},
      {"deform_convs.0.1.bias", {256}},                          {"deform_convs.0.3.conv_offset.weight", {18, 256, 3, 3}},
      {"deform_convs.0.3.conv_offset.bias", {18}},              {"deform_convs.0.3.conv.weight", {128, 256, 3, 3}},
      {"deform_convs.0.4.weight", {128}},                        {"deform_convs.0.4.bias", {128}},
      {"deform_convs.0.6.conv_offset.weight", {18, 128, 3, 3}}, {"deform_convs.0.6.conv_offset.bias", {18}},
      {"deform_convs.0.6.conv.weight", {128, 128, 3, 3}},       {"deform_convs.0.7.weight", {128}},
      {"deform_convs.0.7.bias", {128}},                          {"conv_pred.conv.weight", {19, 512, 1, 1}},
      {"conv_pred.conv.bias", {19}}};
  auto sd = h.state_dict();
  ASSERT_EQ(sd.size(), want.size());
  for (auto& [k, t] : sd) {
    ASSERT_TRUE(want.count(k)) << "unexpected key " << k;
    EXPECT_EQ(t.shape(), want[k]) << k;
  }
}

TEST(SemanticHead, MatchesPyTorchReimplementation) {
  models::SemanticHead h(small_options());
  std::map<std::string, Tensor> sd;
  for (auto& [k, t] : h.state_dict()) sd[k] = sem(k);
  EXPECT_TRUE(h.load_state_dict(sd).empty());
  std::vector<Tensor> feats;
  for (int l = 2; l <= 5; ++l) feats.push_back(sem("p" + std::to_string(l)).set_requires_grad());
  models::SemanticOutput out = h.forward(feats);
  EXPECT_ALLCLOSE(out.fcn_score, sem("fcn_score"), 1e-10, 1e-10);
  EXPECT_ALLCLOSE(out.fcn_output, sem("fcn_output"), 1e-10, 1e-10);
  Tensor loss = h.loss(out, sem("gt").to(DType::i64));
  EXPECT_NEAR(loss.item_double(), sem("loss").item_double(), 1e-12);
  loss.backward();
  for (int l = 2; l <= 5; ++l)
    EXPECT_ALLCLOSE(feats[size_t(l - 2)].grad(), sem("grad_p" + std::to_string(l)), 1e-10, 1e-10) << "P" << l;
  for (auto& [k, p] : h.named_parameters()) {
    if (k == "conv_pred.conv.weight" || k == "deform_convs.0.0.conv_offset.weight") {
      EXPECT_ALLCLOSE(p.grad(), sem("grad_" + k), 1e-10, 1e-10) << k;
    }
  }
}

TEST(SemanticHead, BadInputsNameTheShapes) {
  models::SemanticHead h(small_options());
  std::vector<Tensor> feats;
  for (int l = 2; l <= 5; ++l) feats.push_back(sem("p" + std::to_string(l)));
  EXPECT_NE(error_of([&] { h.forward({feats[0], feats[1]}); }).find("needs 4 feature maps"), std::string::npos);
  std::vector<Tensor> wrong = feats;
  wrong[1] = Tensor::zeros({1, 32, 3, 8}, DType::f64);
  EXPECT_NE(error_of([&] { h.forward(wrong); }).find("does not match P2"), std::string::npos);
  auto out = h.forward(feats);
  std::string m = error_of([&] { h.loss(out, Tensor::zeros({1, 8, 16}, DType::i64)); });
  EXPECT_NE(m.find("[1, 8, 16]"), std::string::npos) << m;
}

// float64 gradcheck of the whole head (a tiny one: 2 levels, 3 classes) through the loss and through
// fcn_output; the offsets come from conv_offset of random inputs, so samples sit at random (not
// integer) coordinates, away from the kinks of bilinear interpolation.
TEST(SemanticHead, Gradcheck) {
  models::SemanticHeadOptions o;
  o.in_channels = 8, o.out_channels = 4, o.gn_groups = 2, o.num_levels = 2, o.num_classes = 3;
  o.dtype = DType::f64, o.seed = 5;
  models::SemanticHead h(o);
  Tensor p2 = vps::testing::rnd({1, 8, 4, 6}, 1).set_requires_grad(), p3 = vps::testing::rnd({1, 8, 2, 3}, 2).set_requires_grad();
  Tensor gt = Tensor::from_vector<int64_t>(std::vector<int64_t>(16 * 24, 1), {1, 16, 24});
  vps::testing::gradcheck([&](const std::vector<Tensor>& v) { return h.forward({v[0], v[1]}).fcn_output; }, {p2, p3});
  vps::testing::gradcheck([&](const std::vector<Tensor>& v) { return h.loss(h.forward({v[0], v[1]}), gt); }, {p2, p3});
}
