// The training sample's flow (data/train_flow.h, PairOptions::flow_dir): transforms checked by hand on
// tiny grids, then end to end on the synthetic set's exact flow against the sampler's own labels.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/flow_io.h"
#include "data/fs_util.h"
#include "data/synth.h"
#include "data/train_flow.h"
#include "data/train_pairs.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"

using namespace vps;
using namespace vps::data;
using vps::testing::expect_error;

namespace {

PairFlow grid_flow(int64_t h, int64_t w, const std::vector<float>& dx, const std::vector<float>& dy,
                   const std::vector<uint8_t>& valid) {
  std::vector<float> fl(dx);
  fl.insert(fl.end(), dy.begin(), dy.end());
  PairFlow f;
  f.flow = Tensor::from_vector(fl, {2, h, w});
  f.valid = Tensor::from_vector(valid, {1, h, w});
  f.source = "synthetic-exact", f.target = "t.png", f.reference = "r.png";
  return f;
}

float at(const Tensor& t, int64_t c, int64_t y, int64_t x) {
  return t.select(0, 0).select(0, c).select(0, y).select(0, x).item<float>();
}

}  // namespace

TEST(TrainFlow, FlipMirrorsAndNegatesDxThenResizeScalesTheValues) {
  PairFlow f = grid_flow(2, 4, {1, 2, 3, 4, 5, 6, 7, 8}, {10, 20, 30, 40, 50, 60, 70, 80}, {1, 0, 1, 1, 0, 1, 1, 0});
  TrainingFlow same = transform_pair_flow(f, true, 2, 4);
  EXPECT_EQ(same.flow.reshape({16}).to_vector<float>(),
            (std::vector<float>{-4, -3, -2, -1, -8, -7, -6, -5, 40, 30, 20, 10, 80, 70, 60, 50}));
  EXPECT_EQ(same.valid.reshape({8}).to_vector<float>(), (std::vector<float>{1, 1, 0, 1, 0, 1, 1, 0}));
  // x2: bilinear (align_corners false) of the flipped flow, values doubled; valid nearest.
  TrainingFlow big = transform_pair_flow(f, true, 4, 8);
  EXPECT_EQ(big.flow.shape(), (Shape{1, 2, 4, 8}));
  EXPECT_FLOAT_EQ(at(big.flow, 0, 0, 0), -8.f);    // src (0, 0): -4 * 2
  EXPECT_FLOAT_EQ(at(big.flow, 0, 0, 1), -7.5f);   // src x 0.25: (-4 * 0.75 - 3 * 0.25) * 2
  EXPECT_FLOAT_EQ(at(big.flow, 0, 3, 7), -10.f);   // src (1.25 -> row 1, 3.25 -> col 3): -5 * 2
  EXPECT_FLOAT_EQ(at(big.flow, 0, 1, 0), -10.f);   // src y 0.25: (-4 * 0.75 - 8 * 0.25) * 2
  EXPECT_FLOAT_EQ(at(big.flow, 1, 0, 1), 75.f);    // dy is mirrored, not negated: (40 * .75 + 30 * .25) * 2
  EXPECT_FLOAT_EQ(at(big.valid, 0, 0, 2), 1.f);    // nearest src (0, 1) of the flipped valid
  EXPECT_FLOAT_EQ(at(big.valid, 0, 0, 4), 0.f);    // src (0, 2)
  EXPECT_FLOAT_EQ(at(big.valid, 0, 3, 7), 0.f);    // src (1, 3)
  // Odd width: the middle column stays in place, negated once. Half size: values halved.
  PairFlow odd = grid_flow(1, 3, {1, 2, 3}, {4, 5, 6}, {1, 1, 0});
  TrainingFlow o = transform_pair_flow(odd, true, 1, 3);
  EXPECT_EQ(o.flow.reshape({6}).to_vector<float>(), (std::vector<float>{-3, -2, -1, 6, 5, 4}));
  TrainingFlow half = transform_pair_flow(f, false, 1, 2);
  EXPECT_FLOAT_EQ(at(half.flow, 0, 0, 0), (1 + 2 + 5 + 6) / 4.f * 0.5f);
}

class TrainFlowSampler : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vps::test::TempDir;
    SynthOptions o;
    o.videos = 2, o.frames = 15, o.width = 96, o.height = 64, o.seed = 4;
    o.splits = {"train"};
    o.crossing = true;
    o.flow_offsets = {-5, 5};
    write_synthetic_dataset(dir_->path(), o);
  }
  static void TearDownTestSuite() { delete dir_; }
  static vps::test::TempDir* dir_;
};
vps::test::TempDir* TrainFlowSampler::dir_ = nullptr;

// Nearest warp of the reference's transformed labels by the sample's flow against the target's: all
// valid pixels agree at scale 1 unflipped; flipped, only pixels whose flow lands on a half pixel may round
// the other way; at scale 0.75 the nearest-resized labels and the bilinear flow sample at centres up to
// half a pixel apart, so boundary pixels differ (measured 95.5%). The padding is invalid.
TEST_F(TrainFlowSampler, FlowWarpsTheReferenceLabelsOntoTheTarget) {
  CityscapesVps ds(dir_->path(), "train");
  struct Case { double scale; bool flip; double min_agree; };
  for (const Case& c : {Case{1.0, false, 1.0}, Case{1.0, true, 0.995}, Case{0.75, true, 0.93}}) {
    PairOptions po;
    po.scale = c.scale;
    po.flip = c.flip;
    po.flow_dir = *dir_ / "train/flow";
    PairSampler s(ds, po);
    int64_t valid = 0, agree = 0, pairs = 0;
    for (int64_t step = 0; step < 8; ++step) {
      vps::Batch b = s.sample(step);
      ASSERT_TRUE(b.flow.defined());
      const Tensor& img = b.frame.image;
      ASSERT_EQ(b.flow.shape(), (Shape{1, 2, img.size(2), img.size(3)}));
      ASSERT_EQ(b.flow_valid.shape(), (Shape{1, 1, img.size(2), img.size(3)}));
      const int64_t H = b.frame.img_h, W = b.frame.img_w, Wp = img.size(3);
      auto fl = b.flow.to_vector<float>();
      auto va = b.flow_valid.to_vector<float>();
      auto ts = b.frame.semantic.to_vector<int64_t>(), rs = b.reference->semantic.to_vector<int64_t>();
      const size_t plane = size_t(img.size(2) * Wp);
      for (int64_t y = 0; y < img.size(2); ++y)
        for (int64_t x = 0; x < Wp; ++x) {
          size_t i = size_t(y * Wp + x);
          if (y >= H || x >= W) {
            ASSERT_EQ(va[i], 0.f) << "padding at " << x << "," << y;
            continue;
          }
          if (va[i] == 0) continue;
          int64_t xr = int64_t(std::floor(x + fl[i] + 0.5)), yr = int64_t(std::floor(y + fl[plane + i] + 0.5));
          xr = std::clamp<int64_t>(xr, 0, W - 1), yr = std::clamp<int64_t>(yr, 0, H - 1);
          ++valid;
          agree += rs[size_t(yr * W + xr)] == ts[size_t(y * W + x)];
        }
      pairs += b.frame.image_id != b.reference->image_id;
    }
    EXPECT_GT(valid, int64_t(8 * 64 * 96 * c.scale * c.scale / 4)) << c.scale;
    EXPECT_GE(double(agree), c.min_agree * double(valid)) << agree << " of " << valid << " at scale " << c.scale;
    EXPECT_GT(pairs, 4);
    std::printf("scale %.2f flip %d: %lld of %lld valid pixels agree\n", c.scale, int(c.flip), (long long)agree,
                (long long)valid);
  }
}

TEST_F(TrainFlowSampler, AFlowOfAnotherPairOrMissingIsRefusedNamingTheFile) {
  CityscapesVps ds(dir_->path(), "train");
  vps::test::TempDir bad;
  std::string src = *dir_ / "train/flow";
  auto files = list_files(src, ".safetensors");
  ASSERT_FALSE(files.empty());
  // Every file is replaced by the first one: all but that pair now hold another pair's flow.
  for (const auto& name : files) std::filesystem::copy_file(src + "/" + files[0], bad / name);
  PairOptions po;
  po.flow_dir = bad.path();
  PairSampler s(ds, po);
  std::string msg;
  for (int64_t step = 0; step < 8 && msg.empty(); ++step) msg = vps::testing::error_of([&] { s.sample(step); });
  EXPECT_NE(msg.find("was made for the pair"), std::string::npos) << msg;
  EXPECT_NE(msg.find(bad.path()), std::string::npos) << msg;
  vps::test::TempDir empty;
  po.flow_dir = empty.path();
  PairSampler s2(ds, po);
  std::string miss;
  for (int64_t step = 0; step < 8 && miss.empty(); ++step) miss = vps::testing::error_of([&] { s2.sample(step); });
  EXPECT_NE(miss.find(empty.path()), std::string::npos) << miss;
}
