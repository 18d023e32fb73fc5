// Model weights I/O: save/load round trip, one error naming every missing / unexpected / mis-shaped
// key, non-strict loading; `vps inspect --config/--model` and `vps infer-features` (their library calls).
#include <gtest/gtest.h>

#include "data/image_io.h"
#include "data/image_tensor.h"
#include "data/panoptic.h"
#include "infer/features.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "tensor/io/convert.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/tensor_io.h"
#include "tests/backbone_test_util.h"
#include "tests/gradcheck.h"
#include "tests/weights_test_util.h"

using namespace vps;
using namespace vps::models;

namespace {

const std::string kTiny = "configs/resnet_fpn_tiny.json";

std::shared_ptr<models::ResNetFPN> tiny_model(uint64_t seed) {
  nlohmann::json c = models::load_config(kTiny);
  c["backbone"]["seed"] = seed;
  c["neck"]["seed"] = seed + 100;
  return models::build_resnet_fpn(c);
}

// Writes `m`'s state_dict with `edit` applied to the arrays.
void save_edited(const nn::Module& m, const std::string& path, const std::function<void(NamedArrays&)>& edit) {
  NamedArrays a;
  for (auto& kv : m.state_dict()) a.emplace_back(kv.first, to_raw(kv.second));
  edit(a);
  write_safetensors(path, a);
}

}  // namespace

TEST(BackboneIO, SaveLoadRoundTrip) {
  test::TempDir dir;
  auto a = tiny_model(1), b = tiny_model(2);
  models::save(*a, dir.file("a.safetensors"), {{"note", "test"}});
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"a.safetensors"}));  // atomic: no temp file left
  KeyReport r = models::load(*b, dir.file("a.safetensors"));
  EXPECT_TRUE(r.ok());
  auto sa = a->state_dict(), sb = b->state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_LE(vps::testing::allclose_ratio(sb[i].second.to(DType::f64), sa[i].second.to(DType::f64), 0, 0), 1.0)
        << sa[i].first;
  }
  EXPECT_EQ(read_safetensors(dir.file("a.safetensors")).metadata.at("note"), "test");
}

TEST(BackboneIO, LoadErrorNamesEveryBadKey) {
  test::TempDir dir;
  auto m = tiny_model(1);
  std::string path = dir.file("bad.safetensors");
  save_edited(*m, path, [](NamedArrays& a) {
    for (auto it = a.begin(); it != a.end(); ++it)
      if (it->first == "backbone.layer2.0.bn1.running_var") {
        a.erase(it);
        break;
      }
    for (auto& kv : a)
      if (kv.first == "neck.fpn_convs.1.conv.bias") {
        kv.second.shape = {8, 2};
      }
    a.emplace_back("rpn_head.rpn_conv.weight", a.back().second);
  });
  test::expect_error([&] { models::load(*m, path); },
                     {path, "backbone.layer2.0.bn1.running_var", "neck.fpn_convs.1.conv.bias", "[8, 2]", "[16]",
                      "rpn_head.rpn_conv.weight", "1 missing, 1 unexpected, 1 mis-shaped"});
  models::LoadOptions lax;
  lax.strict = false;  // a shape mismatch is refused even when not strict
  test::expect_error([&] { models::load(*m, path, lax); }, {"neck.fpn_convs.1.conv.bias", "[8, 2]"});
  save_edited(*m, path, [](NamedArrays& a) {
    a.erase(a.begin());
    a.emplace_back("extra.weight", a.back().second);
  });
  KeyReport r = models::load(*m, path, lax);
  EXPECT_EQ(r.missing, (std::vector<std::string>{"backbone.conv1.weight"}));
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"extra.weight"}));
}

TEST(BackboneIO, InspectAgainstModel) {
  test::TempDir dir;
  auto m = tiny_model(1);
  std::string good = dir.file("good.safetensors"), bad = dir.file("bad.safetensors");
  models::save(*m, good);
  save_edited(*m, bad, [](NamedArrays& a) {
    a.erase(a.begin() + 1);
    a.back().second.shape = {4, 4};
    a.emplace_back("fc.weight", a.front().second);
  });
  std::string ok = models::inspect_against_model(good, kTiny, "");
  EXPECT_NE(ok.find("all keys match"), std::string::npos) << ok;
  std::string rep = models::inspect_against_model(bad, kTiny, "");
  EXPECT_NE(rep.find("missing: backbone.bn1.weight"), std::string::npos) << rep;
  EXPECT_NE(rep.find("unexpected: fc.weight"), std::string::npos) << rep;
  EXPECT_NE(rep.find("shape mismatch: neck.fpn_convs.3.conv.bias file [4, 4] expected [16]"), std::string::npos) << rep;
  // --model TYPE: default options (ResNet-50 + FPN 256): every tiny key is mis-shaped or missing.
  std::string full = models::inspect_against_model(good, "", "FPN");
  EXPECT_NE(full.find("unexpected: backbone.conv1.weight"), std::string::npos);
  test::expect_error([&] { models::inspect_against_model(good, "", "NoSuchNet"); }, {"NoSuchNet"});
  test::expect_error([&] { models::inspect_against_model(good, kTiny, "FPN"); }, {"exactly one"});
}

TEST(BackboneIO, AFileSharingNoKeyIsRefusedEvenWhenNotStrict) {
  test::TempDir dir;
  auto m = tiny_model(1);
  std::string path = dir.file("other.safetensors");
  save_edited(*m, path, [](NamedArrays& a) {
    for (auto& kv : a) kv.first = "model." + kv.first;  // a prefix the rename map forgot
  });
  models::LoadOptions lax;
  lax.strict = false;
  test::expect_error([&] { models::load(*m, path, lax); }, {path, "matches none of the", "keys of the ResNetFPN"});
  // `vps inspect --config`: exit 1 while keys are missing, 0 when every key is there.
  models::save(*m, dir.file("good.safetensors"));
  bool complete = true;
  models::inspect_against_model(path, kTiny, "", "", true, &complete);
  EXPECT_FALSE(complete);
  models::inspect_against_model(dir.file("good.safetensors"), kTiny, "", "", true, &complete);
  EXPECT_TRUE(complete);
}

TEST(BackboneIO, AbsurdConfigSizesNameTheConfigNotBadAlloc) {
  test::TempDir dir;
  nlohmann::json c = models::load_config(kTiny);
  c["backbone"]["base_width"] = int64_t(1) << 30;  // a 7x7 stem of 2^30 x 3 x 49 floats: 630 GB
  std::string path = dir.file("absurd.json");
  data::write_json(path, c);
  test::expect_error([&] { models::build_module_from_file(path); }, {path, "out of memory"});
}

// `vps infer-features` end to end on the tiny config: a .npy input (taken as is) and a PNG (normalised).
TEST(BackboneIO, InferFeaturesWritesNamedMaps) {
  test::TempDir dir;
  auto m = tiny_model(5);
  std::string w = dir.file("w.safetensors"), npy = dir.file("x.npy"), png = dir.file("x.png");
  models::save(*m, w);
  Tensor x = vps::testing::rnd({1, 3, 64, 64}, 9).to(DType::f32);
  save_npy(npy, x);
  auto maps = infer::infer_features(kTiny, w, npy, dir.file("f.safetensors"));
  m->eval();
  auto want = m->forward(x);
  NamedTensors got = load_safetensors(dir.file("f.safetensors"));
  ASSERT_EQ(got.size(), 9u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_LE(vps::testing::allclose_ratio(got[i].second, want[i].second, 1e-6, 1e-6), 1.0) << got[i].first;
  }
  // Image: RGB, (x - mean) / std, padded from 40x50 to 64x64 with zeros.
  data::Image img = data::Image::make(50, 40, 3);
  for (size_t i = 0; i < img.data8.size(); ++i) img.data8[i] = uint8_t((i * 37) % 256);
  data::write_png(png, img);
  Tensor in = data::load_model_input(png);
  EXPECT_EQ(in.shape(), (Shape{1, 3, 64, 64}));
  EXPECT_NEAR(in.select(1, 1).select(1, 0).select(1, 1).item_double(), ((4 * 37) % 256 - 116.28) / 57.12, 1e-5);
  EXPECT_EQ(in.select(1, 0).select(1, 63).select(1, 63).item_double(), 0.0);
  infer::FeatureOptions fo;
  fo.fold_bn = true;
  auto img_maps = infer::infer_features(kTiny, w, png, dir.file("g.safetensors"), fo);
  EXPECT_EQ(img_maps[8].first, "P6");
  EXPECT_EQ(img_maps[8].second.shape(), (Shape{1, 16, 1, 1}));
  test::expect_error([&] { infer::infer_features(kTiny, dir.file("none.safetensors"), npy, dir.file("h")); },
                     {"none.safetensors"});
}

// A rename rule that empties a name drops the tensor (how the torchvision map drops fc.*); rules that
// drop everything are an error and write nothing.
TEST(BackboneIO, RenameRuleDropsTensors) {
  test::TempDir dir;
  std::string in = dir.file("in.safetensors"), out = dir.file("out.safetensors");
  write_safetensors(in, {{"fc.weight", to_raw(Tensor::ones({2, 3}))}, {"conv1.weight", to_raw(Tensor::ones({4}))}});
  ConvertOptions o;
  o.renames = {{"^fc\\..*$", ""}, {"^conv1", "backbone.conv1"}};
  convert_weights(in, out, o);
  auto got = read_safetensors(out).arrays;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "backbone.conv1.weight");
  o.renames = {{"^.*$", ""}};
  std::string none = dir.file("none.safetensors");
  test::expect_error([&] { convert_weights(in, none, o); }, {"in.safetensors", "dropped every tensor"});
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"in.safetensors", "out.safetensors"}));
}

// infer-features runs the backbone and neck of any model that has them (here the tiny MaskRCNN config).
TEST(BackboneIO, InferFeaturesOfADetector) {
  test::TempDir dir;
  const std::string cfg = "configs/mask_rcnn_tiny.json";
  std::shared_ptr<models::Model> m = models::build_model_from_file(cfg);
  std::string w = dir.file("w.safetensors"), npy = dir.file("x.npy");
  models::save(*m, w);
  Tensor x = vps::testing::rnd({1, 3, 64, 64}, 10).to(DType::f32);
  save_npy(npy, x);
  auto maps = infer::infer_features(cfg, w, npy, dir.file("f.safetensors"));
  auto bb = m->child_as<models::ResNet>("backbone");
  auto neck = m->child_as<models::FPN>("neck");
  ASSERT_TRUE(bb && neck);
  m->eval();
  auto c = bb->forward(x);
  auto want = models::name_features(bb->options().out_indices, c, neck->forward(c));
  ASSERT_EQ(maps.size(), want.size());
  for (size_t i = 0; i < maps.size(); ++i) {
    EXPECT_EQ(maps[i].first, want[i].first);
    EXPECT_LE(vps::testing::allclose_ratio(maps[i].second, want[i].second, 1e-6, 1e-6), 1.0) << maps[i].first;
  }
  std::string resnet_cfg = dir.file("resnet.json");
  test::write_bytes(resnet_cfg, test::bytes_of("{\"type\": \"ResNet\", \"depth\": 18, \"base_width\": 2}"));
  test::expect_error([&] { infer::infer_features(resnet_cfg, w, npy, dir.file("g.safetensors")); },
                     {resnet_cfg, "no ResNet `backbone` and FPN `neck`"});
}

// A partial load says what it let through: the model keys the file lacks and the file's unused keys.
TEST(WeightsLoad, PartialLoadSummaryListsMissingAndUnusedKeys) {
  vps::KeyReport r;
  EXPECT_EQ(vps::models::partial_load_summary(r), "");
  r.missing = {"a.weight", "b.weight", "c.weight"};
  r.unexpected = {"track_head.fc.weight"};
  std::string s = vps::models::partial_load_summary(r, 2);
  EXPECT_NE(s.find("3 model keys not in the file"), std::string::npos) << s;
  EXPECT_NE(s.find("  b.weight\n  ... and 1 more"), std::string::npos) << s;
  EXPECT_NE(s.find("1 keys of the file the model does not use (left unused):\n  track_head.fc.weight"),
            std::string::npos) << s;
}
