#include <gtest/gtest.h>

#include <map>
#include <set>

#include "data/cityscapes_vps.h"
#include "data/fs_util.h"
#include "data/synth.h"
#include "tensor/check.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

using namespace vps::data;

using vps::testing::error_of;

namespace {
struct Fixture {
  vps::test::TempDir dir;
  Fixture() {
    SynthOptions o;
    o.videos = 2;
    o.width = 128;
    o.height = 64;
    o.splits = {"train", "val"};
    o.seed = 5;
    write_synthetic_dataset(dir.path(), o);
  }
};
Fixture& fx() {
  static Fixture f;
  return f;
}
}  // namespace

TEST(CityscapesVps, IndexesVideosFramesAndCategories) {
  CityscapesVps ds(fx().dir.path(), "val");
  EXPECT_EQ(ds.categories().size(), 19u);
  int things = 0;
  for (const auto& c : ds.categories()) things += c.isthing;
  EXPECT_EQ(things, 8);
  ASSERT_EQ(ds.frames().size(), 12u);
  ASSERT_EQ(ds.videos().size(), 2u);
  EXPECT_EQ(ds.videos()[0].labelled.size(), 6u);
  EXPECT_EQ(ds.videos()[0].all.size(), 30u);
  EXPECT_EQ(ds.all_frames()[0].frame_index, 1);
  EXPECT_EQ(ds.frames()[3].frame_index, 20);
  EXPECT_NE(ds.frames()[3].image_file.find("_leftImg8bit.png"), std::string::npos);  // the 20th frame
  EXPECT_FALSE(ds.frames()[0].segments.empty());
  auto nb = ds.neighbours(2, 1);
  EXPECT_EQ(nb, (std::vector<size_t>{1, 3}));
  EXPECT_EQ(ds.neighbours(6, 1), (std::vector<size_t>{7}));  // first frame of the second video
}

TEST(CityscapesVps, LoadsSamplesWithVideoConsistentIds) {
  CityscapesVps ds(fx().dir.path(), "train");
  std::map<int, int> obj_class;
  int n_inst = 0;
  for (size_t i = 0; i < 6; ++i) {
    CvpsSample s = ds.load(i);
    ASSERT_EQ(s.image.width, 128);
    ASSERT_EQ(s.semantic.size(), size_t(128 * 64));
    for (const auto& in : s.instances) {
      ++n_inst;
      EXPECT_GE(in.category_id, 11);
      EXPECT_LE(in.category_id, 18);
      if (in.iscrowd) continue;
      EXPECT_GT(in.obj_id, 0);
      auto [it, fresh] = obj_class.emplace(in.obj_id, in.category_id);
      EXPECT_EQ(it->second, in.category_id);  // an object keeps its class over the video
      // the mask lies inside the box and matches the semantic map
      for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 128; ++x)
          if (in.mask[size_t(y) * 128 + x]) {
            EXPECT_TRUE(x >= in.box[0] && x <= in.box[2] && y >= in.box[1] && y <= in.box[3]);
            EXPECT_EQ(s.semantic[size_t(y) * 128 + x], in.category_id);
          }
    }
  }
  EXPECT_GT(n_inst, 3);
  // val has no instances json read path difference: panoptic PNG route gives the same kind of data
  CityscapesVps val(fx().dir.path(), "val");
  EXPECT_FALSE(val.load(0).instances.empty());
}

TEST(CityscapesVps, MissingFilesAndBadJsonNameFileAndImage) {
  vps::test::TempDir d;
  SynthOptions o;
  o.videos = 1;
  o.frames = 10;
  o.width = 64;
  o.height = 32;
  o.splits = {"val"};
  write_synthetic_dataset(d.path(), o);
  CityscapesVps ds(d.path(), "val");
  std::string img = ds.image_path(0);
  std::remove(img.c_str());
  EXPECT_NE(error_of([&] { ds.load(0); }).find(img), std::string::npos);
  EXPECT_NE(error_of([&] { CityscapesVps(d.path(), "train"); }).find("panoptic_im_train_city_vps.json"),
            std::string::npos);
  auto gt = read_json(d / "panoptic_gt_val_city_vps.json");
  gt["annotations"][1]["image_id"] = "0001_9999_nowhere";
  write_json(d / "panoptic_gt_val_city_vps.json", gt);
  std::string e = error_of([&] { CityscapesVps(d.path(), "val"); });
  EXPECT_NE(e.find("0001_9999_nowhere"), std::string::npos) << e;
  EXPECT_NE(e.find("panoptic_gt_val_city_vps.json"), std::string::npos) << e;
  write_file_atomic(d / "panoptic_gt_val_city_vps.json", std::string("{\"annotations\": [")); 
  EXPECT_NE(error_of([&] { CityscapesVps(d.path(), "val"); }).find("invalid JSON"), std::string::npos);
}
