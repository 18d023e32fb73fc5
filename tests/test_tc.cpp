// Temporal consistency (eval/tc.h): hand-made pairs with hand-computed values, then `vps eval tc` on a
// synthetic set with its exact flow.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/flow_io.h"
#include "data/fs_util.h"
#include "data/panoptic.h"
#include "data/synth.h"
#include "eval/perturb.h"
#include "data/train_flow.h"
#include "eval/tc.h"
#include "tests/cli_runner.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"

using namespace vps;
using namespace vps::eval;
using vps::testing::expect_error;

namespace {

// A 1-row flow of width w: dx per pixel, dy 0, validity per pixel.
data::PairFlow row_flow(const std::vector<float>& dx, const std::vector<uint8_t>& valid) {
  const int64_t w = int64_t(dx.size());
  std::vector<float> fl(dx);
  fl.resize(size_t(2 * w), 0.f);
  data::PairFlow f;
  f.flow = Tensor::from_vector(fl, {2, 1, w});
  f.valid = Tensor::from_vector(valid, {1, 1, w});
  return f;
}

double tc_of(const std::vector<uint8_t>& t, const std::vector<uint8_t>& r, const data::PairFlow& f, TcMode m, int K) {
  TcCounts c;
  add_tc_pair(t, r, f, m, K, &c, "test");
  return tc_value(c, m);
}

}  // namespace

TEST(Tc, StaticSceneIsOneAbsentClassesCountAsZeroInEtcMode) {
  auto f = row_flow({0, 0, 0, 0}, {1, 1, 1, 1});
  std::vector<uint8_t> p = {0, 0, 1, 255};
  EXPECT_NEAR(tc_of(p, p, f, TcMode::clean, 3), 1.0, 1e-9);
  EXPECT_NEAR(tc_of(p, p, f, TcMode::etc, 3), 2.0 / 3.0, 1e-9);  // class 2 absent: 0 in the mean
}

TEST(Tc, KnownFlickerGivesTheHandComputedValue) {
  auto f = row_flow({0, 0, 0, 0}, {1, 1, 1, 1});
  // classes 0: I 1, U 2; 1: I 2, U 3 -> (1/2 + 2/3) / 2
  EXPECT_NEAR(tc_of({0, 0, 1, 1}, {0, 1, 1, 1}, f, TcMode::clean, 2), (0.5 + 2.0 / 3.0) / 2, 1e-9);
  // Two pairs accumulate counts before the ratio: (0 1 | 0 0) adds class 0: I 1, U 2; class 1: U 1.
  TcCounts c;
  add_tc_pair({0, 0, 1, 1}, {0, 1, 1, 1}, f, TcMode::clean, 2, &c, "a");
  add_tc_pair({0, 1, 1, 1}, {0, 0, 1, 1}, f, TcMode::clean, 2, &c, "b");
  EXPECT_EQ(c.inter, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(c.uni, (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(c.pairs, 2);
}

TEST(Tc, TheFlowAlignsAMovingObjectAndInvalidPixelsAreLeftOutInCleanMode) {
  // The object (class 1) moved one pixel right; the forward flow of the target says so.
  std::vector<uint8_t> t = {1, 1, 0, 0, 0}, r = {0, 1, 1, 0, 0};
  auto still = row_flow({0, 0, 0, 0, 0}, {1, 1, 1, 1, 1});
  auto moved = row_flow({1, 1, 1, 1, 1}, {1, 1, 1, 1, 0});  // the last pixel leaves the image
  EXPECT_NEAR(tc_of(t, r, still, TcMode::clean, 2), (2.0 / 4 + 1.0 / 3) / 2, 1e-9);
  EXPECT_NEAR(tc_of(t, r, moved, TcMode::clean, 2), 1.0, 1e-9);
  // etc: no mask; the last pixel samples the clamped border (0), so it still agrees.
  EXPECT_NEAR(tc_of(t, r, moved, TcMode::etc, 2), 1.0, 1e-9);
}

TEST(Tc, EtcWarpsLabelIdsBilinearlyAndTruncates) {
  // dx 0.5 between ids 0 and 3 gives 1.5 -> class 1, a class neither frame has there.
  auto f = row_flow({0.5f, 0, 0}, {1, 1, 1});
  std::vector<uint8_t> t = {1, 3, 3}, r = {0, 3, 3};
  // warped = {1, 3, 3}: all agree; classes 0, 2 absent; 1: I 1 U 1; 3: I 2 U 2 -> (0 + 1 + 0 + 1) / 4
  EXPECT_NEAR(tc_of(t, r, f, TcMode::etc, 4), 0.5, 1e-9);
  // clean (nearest at 0.5 rounds up to pixel 1, id 3): class 1 I 0 U 1, class 3 I 2 U 3 -> (0 + 2/3) / 2
  EXPECT_NEAR(tc_of(t, r, f, TcMode::clean, 4), 1.0 / 3, 1e-9);
  expect_error([&] { tc_of({1, 3}, r, f, TcMode::etc, 4); }, {"test", "2 and 3 pixels", "3x1"});
}

// End to end: the GT as the prediction with the exact flow is perfectly consistent (clean TC 1); a
// prediction whose thing classes change in every other frame is not; a flow of another pair or size is
// refused naming the file.
TEST(Tc, EvalTcOnTheSyntheticSetWithItsExactFlow) {
  vps::test::TempDir d;
  data::SynthOptions o;
  o.videos = 2, o.frames = 20, o.width = 128, o.height = 64, o.seed = 6;
  o.splits = {"val"};
  o.images = "none";
  o.flow_offsets = {5};
  data::write_synthetic_dataset(d.path(), o);
  std::string gt = d / "val/panoptic_video", js = d / "panoptic_gt_val_city_vps.json", flow = d / "val/flow";
  PerturbOptions po;
  po.video_len = 4;
  write_perturbed_prediction(gt, js, d / "pred", po);
  auto run = [&](const std::string& pred, const std::string& fl, const std::string& mode) {
    return vps::test::vps_cli({"eval", "tc", "--pred", pred, "--gt-json", js, "--flow", fl, "--out", d / "out", "--force",
                    "--mode", mode, "--video-len", "4"});
  };
  auto r = run(d / "pred", flow, "clean");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto rep = data::read_json(d / "out/tc.json");
  EXPECT_EQ(rep["mode"], "clean");
  EXPECT_EQ(rep["pairs"], 6);  // 3 per video of 4 labelled frames
  EXPECT_NEAR(rep["tc"].get<double>(), 1.0, 1e-9);  // 1 up to the 1e-10 in I / (U + 1e-10)
  auto etc = run(d / "pred", flow, "etc");
  ASSERT_EQ(etc.rc, 0) << etc.err;
  double tc_etc = data::read_json(d / "out/tc.json")["tc"].get<double>();
  EXPECT_LT(tc_etc, 1.0);  // absent classes count 0 and occluded pixels are not masked
  // The same class change in every frame keeps TC at 1; road predicted as sidewalk in one frame only
  // (a flicker) lowers it.
  po.modes = {Perturb::kClass};
  po.percent = 100;
  write_perturbed_prediction(gt, js, d / "pred_class", po);
  auto changed = run(d / "pred_class", flow, "clean");
  ASSERT_EQ(changed.rc, 0) << changed.err;
  EXPECT_NEAR(data::read_json(d / "out/tc.json")["tc"].get<double>(), 1.0, 1e-9);
  auto pj = data::read_json(d / "pred/pred.json");
  for (auto& s : pj["annotations"][1]["segments_info"])
    if (s["category_id"] == 0) s["category_id"] = 1;
  data::write_json(d / "pred/pred.json", pj);
  auto flicker = run(d / "pred", flow, "clean");
  ASSERT_EQ(flicker.rc, 0) << flicker.err;
  double tc_flicker = data::read_json(d / "out/tc.json")["tc"].get<double>();
  std::printf("clean TC: GT 1, one frame's road as sidewalk %.4f; etc TC of the GT %.4f\n", tc_flicker, tc_etc);
  EXPECT_LT(tc_flicker, 0.95);
  EXPECT_GT(tc_flicker, 0.3);
  vps::test::TempDir bad;
  auto files = data::list_files(flow, ".safetensors");
  for (const auto& name : files) std::filesystem::copy_file(flow + "/" + files[1], bad / name);
  auto refused = run(d / "pred", bad.path(), "clean");
  EXPECT_NE(refused.rc, 0);
  EXPECT_NE(refused.err.find("was made for the pair"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find(bad / files[0]), std::string::npos) << refused.err;
}

// A flow at half resolution (as a `vps flow` cache at the logit resolution would be): the predictions are
// sampled to its grid, the GT stays consistent where it is not thin; a file whose grid is not the image's times its
// scale is refused naming it.
TEST(Tc, AFlowAtAnotherScaleIsUsedOnItsGridOrRefusedWhenItsSizeDisagrees) {
  vps::test::TempDir d, half, wrong;
  data::SynthOptions o;
  o.videos = 1, o.frames = 20, o.width = 128, o.height = 64, o.seed = 8;
  o.splits = {"val"};
  o.images = "none";
  o.flow_offsets = {5};
  data::write_synthetic_dataset(d.path(), o);
  std::string js = d / "panoptic_gt_val_city_vps.json";
  PerturbOptions po;
  po.video_len = 4;
  write_perturbed_prediction(d / "val/panoptic_video", js, d / "pred", po);
  for (const auto& name : data::list_files(d / "val/flow", ".safetensors")) {
    data::PairFlow f = data::read_pair_flow(d / ("val/flow/" + name));
    for (int extra : {0, 1}) {
      data::TrainingFlow t = data::transform_pair_flow(f, false, 32 + extra, 64);
      data::PairFlow g = f;
      g.flow = t.flow.squeeze(0).contiguous();
      g.valid = t.valid.squeeze(0).to(DType::u8).contiguous();
      g.scale = 0.5;
      data::write_pair_flow((extra ? wrong : half) / name, g, true);
    }
  }
  TcOptions to;
  to.video_len = 4;
  TcReport r = evaluate_tc(d / "pred", js, half.path(), to);
  EXPECT_EQ(r.counts.pairs, 3);
  EXPECT_GT(r.tc, 0.6);
  EXPECT_LT(r.tc, 1.0);
  std::printf("clean TC of the GT with the exact flow halved: %.4f\n", r.tc);
  // The large background classes stay aligned; thin ones (poles: 0 of 5) and the few valid road pixels
  // do not survive the halving, and each class weighs the same in the mean (measured TC 0.712).
  for (size_t k = 0; k < r.class_names.size(); ++k)
    if (r.counts.uni[k] > 1000) {
      EXPECT_GT(double(r.counts.inter[k]) / double(r.counts.uni[k]), 0.95) << r.class_names[k];
    }
  expect_error([&] { evaluate_tc(d / "pred", js, wrong.path(), to); }, {wrong.path(), "33x64", "expected 32x64"});
}
