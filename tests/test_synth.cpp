#include <gtest/gtest.h>

#include <omp.h>

#include <filesystem>
#include <map>

#include "data/fs_util.h"
#include "data/image_io.h"
#include "data/panoptic.h"
#include "data/synth.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"

using namespace vps::data;

namespace {
SynthOptions small(uint64_t seed) {
  SynthOptions o;
  o.videos = 2;
  o.frames = 10;
  o.width = 128;
  o.height = 64;
  o.seed = seed;
  o.splits = {"train", "val", "test"};
  return o;
}
std::vector<std::string> all_files(const std::string& root) {
  std::vector<std::string> out;
  for (const char* d : {"", "train/img", "train/labelmap", "train/panoptic_video", "val/img", "val/img_all",
                        "val/labelmap", "val/panoptic_video", "test/img_all"})
    for (const auto& f : list_files(join_path(root, d), "")) {
      std::string p = join_path(join_path(root, d), f);
      if (!std::filesystem::is_directory(p)) out.push_back(std::string(d) + "/" + f);
    }
  return out;
}
}  // namespace

TEST(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
  vps::test::TempDir a, b, c;
  write_synthetic_dataset(a.path(), small(7));
  write_synthetic_dataset(b.path(), small(7));
  write_synthetic_dataset(c.path(), small(8));
  auto fa = all_files(a.path());
  ASSERT_EQ(fa, all_files(b.path()));
  ASSERT_GT(fa.size(), 30u);
  bool any_diff = false;
  for (const auto& f : fa) {
    EXPECT_EQ(read_file_bytes(a / f), read_file_bytes(b / f)) << f;
    if (path_exists(c / f) && read_file_bytes(a / f) != read_file_bytes(c / f)) any_diff = true;
  }
  EXPECT_TRUE(any_diff);
  for (const char* j : {"panoptic_im_train_city_vps.json", "panoptic_gt_val_city_vps.json",
                        "instances_train_city_vps_rle.json", "im_all_info_val_city_vps.json",
                        "im_all_info_test_city_vps.json", "panoptic_im_test_city_vps.json"})
    EXPECT_TRUE(path_exists(a / j)) << j;
  EXPECT_EQ(list_files(a / "val/img_all", ".png").size(), 20u);  // 2 videos x 10 frames
  EXPECT_EQ(list_files(a / "val/img", ".png").size(), 4u);       // frames 5 and 10 of each
}

TEST(Synth, JsonAgreesWithPngsAndScenesHaveThingsStuffVoidAndCrowd) {
  vps::test::TempDir d;
  SynthOptions o = small(11);
  o.videos = 4;
  o.frames = 30;
  o.splits = {"val"};
  o.images = "none";
  write_synthetic_dataset(d.path(), o);
  auto gt = read_json(d / "panoptic_gt_val_city_vps.json");
  ASSERT_EQ(gt["annotations"].size(), 24u);
  std::map<int, int> cats;
  int crowd = 0;
  int64_t void_px = 0;
  for (const auto& a : gt["annotations"]) {
    Image pan = read_png(d / ("val/panoptic_video/" + a["file_name"].get<std::string>()));
    auto ids = image_to_ids(pan, "pan");
    std::map<uint32_t, int64_t> count;
    for (uint32_t v : ids) count[v]++;
    void_px += count[0];
    for (const auto& s : a["segments_info"]) {
      EXPECT_EQ(count[s["id"].get<uint32_t>()], s["area"].get<int64_t>());
      cats[s["category_id"].get<int>()]++;
      crowd += s["iscrowd"].get<int>();
    }
  }
  EXPECT_GT(void_px, 0);
  EXPECT_GT(crowd, 0);
  for (int c : {0, 1, 2, 8, 10, 11, 12, 13}) EXPECT_GT(cats[c], 0) << "category " << c;
}

// The first failed write stops the dataset: the frames not yet started are not rendered (before, every
// remaining frame was rendered and written before the error came out).
TEST(Synth, StopsAtTheFirstFailedWrite) {
  vps::test::TempDir d;
  vps::data::SynthOptions o;
  o.videos = 2;
  o.frames = 20;
  o.label_every = 1;
  o.width = o.height = 32;
  o.splits = {"train"};
  const std::string first = vps::data::synth_image_file(1, 1, o);
  vps::data::make_dirs(d / ("train/img/" + first));  // a folder where the first image goes: its write fails
  vps::testing::expect_error([&] { vps::data::write_synthetic_dataset(d.path(), o); }, {first});
  const size_t written = vps::data::list_files(d / "train/img", ".png").size();
  EXPECT_LT(written, size_t(4 * omp_get_max_threads())) << written << " of 40 frames written after the failure";
}
