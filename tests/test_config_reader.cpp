// cfg::Reader (a key is known because code reads it; finish() refuses the rest, naming its path) and the
// configs built through it: every shipped config, nested typos in model and train configs, the train
// config's range checks and the model=<path> override.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "models/config_reader.h"
#include "models/registry.h"
#include "train/run_config.h"
#include "tests/expect_error.h"

using namespace vps;
using nlohmann::json;
namespace test = vps::testing;

TEST(ConfigReader, RecordsWhatItReadsAndRefusesTheRest) {
  json j = {{"a", 1}, {"b", {{"c", 2.5}, {"d", {1, 2}}}}, {"e", "x"}};
  models::cfg::Reader r(j, "top");
  EXPECT_EQ(r.get_int("a", 0), 1);
  models::cfg::Reader b = r.section("b");
  EXPECT_EQ(b.where(), "b");
  EXPECT_DOUBLE_EQ(b.get_double("c", 0), 2.5);
  EXPECT_EQ(b.section("absent").get_int("z", 7), 7);  // an absent section reads as {}
  EXPECT_EQ(b.section("absent").where(), "b.absent");
  // "e" and "b.d" were never read: the first one named, with the keys known there.
  test::expect_error([&] { r.finish(); }, {"config top", "unknown key 'e'", "known: a, b"});
  EXPECT_EQ(r.get_string("e", ""), "x");
  test::expect_error([&] { r.finish(); }, {"config b", "unknown key 'd'", "absent, c"});
  EXPECT_EQ(b.get_ints("d", {}), (std::vector<int64_t>{1, 2}));
  EXPECT_NO_THROW(r.finish());

  models::cfg::Reader t(j, "top");
  test::expect_error([&] { t.get_string("a", ""); }, {"config top.a", "a string", "1"});
  test::expect_error([&] { t.section("e"); }, {"config e", "expected an object", "\"x\""});
  EXPECT_EQ(t.section("b").get_doubles("d", {}), (std::vector<double>{1, 2}));  // integers are numbers
  test::expect_error([&] { t.section("b").get_bool("c", false); }, {"config b.c", "true or false"});
  test::expect_error([&] { models::cfg::Reader(json::array(), "list"); }, {"config list", "expected an object"});
}

TEST(ConfigReader, EveryShippedConfigReadsWhole) {
  int models_built = 0, train_configs = 0;
  for (auto& e : std::filesystem::directory_iterator("configs")) {
    std::string path = e.path().string();
    json j = models::load_config(path);
    if (j.contains("type")) {  // a model or a part: skip the full-size ones (they allocate ~100 MB each)
      if (path.find("tiny") == std::string::npos && path.find("demo") == std::string::npos) continue;
      EXPECT_NO_THROW(models::build_module_from_file(path)) << path;
      ++models_built;
    } else if (j.contains("model")) {
      EXPECT_NO_THROW(train::run_config(j, "configs", {})) << path;
      ++train_configs;
    }
  }
  EXPECT_GE(models_built, 4);
  EXPECT_GE(train_configs, 4);
}

TEST(ConfigReader, NestedTyposInModelConfigsAreNamed) {
  json c = models::load_config("configs/vpsnet_track_tiny.json");
  json bad = c;
  bad["train_cfg"]["rpn"]["pos_iou_thresh"] = 0.7;
  test::expect_error([&] { models::build_model(bad); }, {"config train_cfg.rpn", "unknown key 'pos_iou_thresh'",
                                                         "pos_iou_thr"});
  bad = c;
  bad["siamtrack"] = {{"projection", {{"out_chanels", 8}}}};
  test::expect_error([&] { models::build_model(bad); }, {"siamtrack.projection", "out_chanels"});
  bad = c;
  bad["backbone"]["dpeth"] = 18;
  test::expect_error([&] { models::build_model(bad); }, {"config backbone", "dpeth"});
  bad = c;
  bad["track_head"]["match"] = 3;
  test::expect_error([&] { models::build_model(bad); }, {"track_head.match", "a string"});
  // VPSNet-Track's own sections are not Mask R-CNN keys.
  json det = models::load_config("configs/mask_rcnn_tiny.json");
  det["panopticFPN"] = json::object();
  test::expect_error([&] { models::build_model(det); }, {"config MaskRCNN", "unknown key 'panopticFPN'"});
}

TEST(ConfigReader, TrainConfigRangesAndOverrides) {
  json t = models::load_config("configs/train_vpsnet_tiny.json");
  auto run = [&](std::vector<std::string> ov) { return train::run_config(t, "configs", ov); };
  test::expect_error([&] { run({"schedule.gamma=-5"}); }, {"schedule.gamma", "(0, 1]", "-5"});
  test::expect_error([&] { run({"schedule.warmup_ratio=-1"}); }, {"schedule.warmup_ratio", "-1"});
  test::expect_error([&] { run({"optimizer.lr=0"}); }, {"optimizer.lr", "positive"});
  test::expect_error([&] { run({"optimizer.momentum=1.5"}); }, {"optimizer.momentum"});
  test::expect_error([&] { run({"optimizer.weight_decay=-1"}); }, {"optimizer.weight_decay"});
  test::expect_error([&] { run({"schedule.warmup_iters=-3"}); }, {"schedule.warmup_iters"});
  test::expect_error([&] { run({"data.fllip=false"}); }, {"config data", "unknown key 'fllip'", "flip"});
  test::expect_error([&] { run({"optimiser.lr=0.1"}); }, {"config train config", "unknown key 'optimiser'"});
  test::expect_error([&] { run({"data.flow=3"}); }, {"data.flow", "true or false"});
  // model=<path> (the documented override) replaces the model before model.* overrides apply.
  train::RunConfig rc = run({"model.panopticFPN.out_channels=12", "model=configs/siamtrack_tiny.json"});
  EXPECT_TRUE(rc.model.contains("siamtrack"));
  EXPECT_EQ(rc.model["panopticFPN"]["out_channels"], 12);
  EXPECT_EQ(run({"model=siamtrack_tiny.json"}).model["type"], "VPSNetTrack");  // relative to the config's folder
  test::expect_error([&] { run({"model=no_such.json"}); }, {"no_such.json", "not found", "configs/no_such.json"});
  // The shipped train configs name their model relative to their own folder: found from any working directory.
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path("/");
  std::string error;
  try {
    train::run_config(models::load_config(cwd / "configs/train_demo.json"), (cwd / "configs").string(), {});
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::filesystem::current_path(cwd);
  EXPECT_EQ(error, "");
}
