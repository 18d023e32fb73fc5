#include <gtest/gtest.h>

#include "data/fs_util.h"
#include "data/gif.h"
#include "data/synth.h"
#include "data/vis.h"
#include "eval/vis_set.h"
#include "eval/perturb.h"
#include "tests/temp_dir.h"

using namespace vps::data;

TEST(Vis, ColoursStuffByClassThingsByTrackId) {
  const auto& cats = cityscapes_categories();
  EXPECT_EQ(segment_color(123, 0, cats), cats[0].color);            // road keeps its class colour
  EXPECT_EQ(segment_color(555, 13, cats), segment_color(555, 13, cats));  // stable per track id
  EXPECT_NE(segment_color(555, 13, cats), segment_color(556, 13, cats));
  std::vector<uint32_t> ids = {0, 1, 2, 2};
  Image c = colorize(ids, 2, 2, {{1, 0}, {2, 13}}, cats);
  EXPECT_EQ(c.data8[0], 0);  // void is black
  EXPECT_EQ(c.data8[3], 128);
  Image o = overlay(Image::make(2, 2, 3), c, ids, 50);
  EXPECT_EQ(o.data8[0], 255);  // outline between void and road
  Image s = side_by_side(c, c, 4);
  EXPECT_EQ(s.width, 8);
  Image sheet = contact_sheet({c, c, c, c}, 3, 4);
  EXPECT_EQ(sheet.width, 3 * 6 + 2);
}

TEST(Vis, GifIsWellFormed) {
  Image a = Image::make(5, 3, 3), b = Image::make(5, 3, 3);
  std::fill(b.data8.begin(), b.data8.end(), 200);
  std::vector<uint8_t> g = encode_gif({a, b}, 10);
  ASSERT_GT(g.size(), 800u);
  EXPECT_EQ(std::string(g.begin(), g.begin() + 6), "GIF89a");
  EXPECT_EQ(g.back(), 0x3B);
  EXPECT_EQ(g[6], 5);
  // LZW of a constant run: clear, literal, growing codes, end.
  std::vector<uint8_t> lz = gif_lzw(std::vector<uint8_t>(10, 7), 8);
  EXPECT_FALSE(lz.empty());
  EXPECT_EQ(lz[0], 0x00);  // first 8 bits of the 9-bit clear code 256
}

TEST(Vis, RendersSideBySideGifAndSheetForASyntheticVideo) {
  vps::test::TempDir d;
  SynthOptions o;
  o.videos = 1;
  o.width = 96;
  o.height = 48;
  o.splits = {"val"};
  write_synthetic_dataset(d.path(), o);
  vps::eval::write_perturbed_prediction(d / "val/panoptic_video", d / "panoptic_gt_val_city_vps.json", d / "pred",
                                        vps::eval::PerturbOptions{});
  vps::eval::VisOptions v;
  v.gt_json = d / "panoptic_gt_val_city_vps.json";
  v.gt_dir = d / "val/panoptic_video";
  v.pred_dir = d / "pred";
  v.images_dir = d / "val/img";
  v.out_dir = d / "vis";
  v.side_by_side = v.gif = v.sheet = true;
  EXPECT_EQ(vps::eval::render_visualisation(v), 6);
  EXPECT_TRUE(path_exists(d / "vis/0001.gif"));
  EXPECT_TRUE(path_exists(d / "vis/0001_sheet.png"));
  Image f = read_png(d / "vis/0001_0001_synth_000001_000005.png");
  EXPECT_EQ(f.width, 96 * 2 + 4);
}
