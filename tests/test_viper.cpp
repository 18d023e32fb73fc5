// The VIPER reader (CityscapesVps with DatasetFormat::viper) on `vps synth --viper-layout` data: the
// same frames, images, semantic GT (ids remapped to VIPER's 23 classes) and instances as the
// Cityscapes-VPS layout of the same seed; pairs with the same detector labels; `vps eval vpq --viper`
// and `vps train` with data.format=viper run on it; bad layouts are refused by name.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/cityscapes_vps.h"
#include "data/fs_util.h"
#include "data/panoptic.h"
#include "data/train_pairs.h"
#include "data/viper_layout.h"
#include "tests/cli_runner.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

using vps::test::vps_cli;
using namespace vps::data;

namespace {

struct Sets {
  vps::test::TempDir dir;
  std::string cvps, viper;
  Sets() : cvps(dir / "cvps"), viper(dir / "viper") {
    for (const std::string& out : {cvps, viper}) {
      std::vector<std::string> a = {"synth", "--out", out, "--videos", "2", "--frames", "15", "--label-every", "1",
                                    "--width", "96", "--height", "64", "--seed", "4"};
      if (out == viper) a.push_back("--viper-layout");
      auto r = vps_cli(a);
      EXPECT_EQ(r.rc, 0) << r.err;
    }
  }
};
Sets& sets() {
  static Sets s;
  return s;
}

}  // namespace

TEST(Viper, ReadsTheSameFramesAsCityscapesVpsWithRemappedIds) {
  CityscapesVps c(sets().cvps, "train"), v(sets().viper, "train", DatasetFormat::viper);
  EXPECT_TRUE(path_exists(sets().viper + "/viper_panoptic_train_video.json"));
  EXPECT_TRUE(path_exists(sets().viper + "/instances_train_01_viper_coco.json"));
  EXPECT_FALSE(path_exists(sets().viper + "/.cityscapes_vps"));
  EXPECT_EQ(v.categories().size(), 23u);
  EXPECT_EQ(v.num_classes(), 23);
  EXPECT_EQ(v.first_thing(), 13);
  EXPECT_EQ(v.last_thing(), 22);
  ASSERT_EQ(v.frames().size(), c.frames().size());
  ASSERT_EQ(v.videos().size(), c.videos().size());
  EXPECT_EQ(v.all_frames().size(), v.frames().size());  // every VIPER frame is labelled
  for (size_t i = 0; i < c.frames().size(); ++i) {
    EXPECT_EQ(v.frames()[i].name, c.frames()[i].name);
    EXPECT_EQ(v.frames()[i].video, c.frames()[i].video);
    EXPECT_EQ(v.frames()[i].rank, c.frames()[i].rank);
    CvpsSample a = c.load(i), b = v.load(i);
    EXPECT_EQ(a.image.data8, b.image.data8);
    ASSERT_EQ(a.semantic.size(), b.semantic.size());
    size_t differ = 0;
    for (size_t p = 0; p < a.semantic.size(); ++p)
      differ += b.semantic[p] != (a.semantic[p] == kIgnoreLabel ? kIgnoreLabel : viper_id_of_cityscapes(a.semantic[p]));
    EXPECT_EQ(differ, 0u) << v.frames()[i].name;
    ASSERT_EQ(a.instances.size(), b.instances.size());
    for (size_t k = 0; k < a.instances.size(); ++k) {
      EXPECT_EQ(b.instances[k].category_id, a.instances[k].category_id + 2);
      EXPECT_EQ(b.instances[k].obj_id, a.instances[k].obj_id);
      EXPECT_EQ(b.instances[k].mask, a.instances[k].mask);
      EXPECT_EQ(b.instances[k].box, a.instances[k].box);
    }
  }
}

TEST(Viper, PairsCarryTheSameDetectorLabels) {
  CityscapesVps c(sets().cvps, "train"), v(sets().viper, "train", DatasetFormat::viper);
  PairOptions o;
  o.seed = 7;
  PairSampler sc(c, o), sv(v, o);
  for (int64_t step = 0; step < 4; ++step) {
    vps::Batch a = sc.sample(step), b = sv.sample(step);
    EXPECT_EQ(a.frame.image_id, b.frame.image_id);
    EXPECT_EQ(a.frame.gt.labels.to_vector<int64_t>(), b.frame.gt.labels.to_vector<int64_t>());
    EXPECT_EQ(a.frame.gt.boxes.to_vector<float>(), b.frame.gt.boxes.to_vector<float>());
    EXPECT_EQ(a.reference->image_id, b.reference->image_id);
  }
}

TEST(Viper, EvalVpqViperScoresTheGtAsPrediction) {
  vps::test::TempDir out;
  const std::string gt = sets().viper + "/val/panoptic_video", js = sets().viper + "/viper_panoptic_val_video.json";
  auto r = vps_cli({"eval", "perturb", "--gt", gt, "--gt-json", js, "--out", out / "pred", "--video-len", "15"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = vps_cli({"eval", "vpq", "--pred", out / "pred", "--gt", gt, "--gt-json", js, "--out", out / "res",
               "--video-len", "15"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NEAR(read_json(out / "res/vpq.json")["final"]["vpq_all"].get<double>(), 100.0, 1e-9);
  // VIPER's evaluator skips GT tubes under 32x32 pixels but still counts the predicted segments that
  // cover them as false positives, so the GT scores below 100 on these 96x64 frames
  r = vps_cli({"eval", "vpq", "--viper", "--pred", out / "pred", "--gt", gt, "--gt-json", js, "--out", out / "res_viper",
               "--video-len", "15"});
  ASSERT_EQ(r.rc, 0) << r.err;
  nlohmann::json j = read_json(out / "res_viper/vpq.json");
  EXPECT_EQ(j["mode"], "viper");
  EXPECT_GT(j["final"]["vpq_all"].get<double>(), 30.0);
  EXPECT_LT(j["final"]["vpq_all"].get<double>(), 100.0);
}

TEST(Viper, TrainsWithDataFormatViper) {
  vps::test::TempDir out;
  auto r = vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", sets().viper, "--out",
                    out / "run", "data.format=viper", "max_iters=3", "log_every=100", "schedule.warmup_iters=1",
                    "model.panopticFPN.num_classes=23", "model.panoptic.num_stuff=13",
                    "model.panoptic.class_mapping=[13,14,15,16,17,18,19,20,21,22]", "model.bbox_head.num_classes=11",
                    "model.mask_head.num_classes=11"});
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  EXPECT_TRUE(path_exists(out / "run/model.safetensors"));
  // the Cityscapes-sized model on VIPER's 23 classes is refused, not crashed
  r = vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", sets().viper, "--out", out / "run2",
               "data.format=viper", "max_iters=1"});
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("19 semantic classes"), std::string::npos) << r.err;
}

TEST(Viper, RefusesBadLayoutsByName) {
  using vps::testing::error_of;
  vps::test::TempDir d;
  EXPECT_NE(error_of([&] { CityscapesVps(d.path(), "val_day", DatasetFormat::viper); }).find("viper_panoptic_val_day_video.json"),
            std::string::npos);
  EXPECT_NE(error_of([&] { CityscapesVps(d.path(), "../x", DatasetFormat::viper); }).find("[a-z0-9_]"), std::string::npos);
  EXPECT_NE(error_of([] { dataset_format_from_string("coco", "data.format"); }).find("coco"), std::string::npos);
}
