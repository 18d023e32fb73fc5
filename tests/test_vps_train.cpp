// `vps train` on a `vps synth` dataset with the tiny VPSNet-Track: the JSON-lines log with every loss,
// the checkpoints and weights, key=value overrides, a run interrupted and resumed that ends with the
// same weights as an uninterrupted one (samples are a function of the step, the prefetching thread
// included), refusals by name; and the pair sampler's GT.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "data/cityscapes_vps.h"
#include "data/fs_util.h"
#include "data/panoptic.h"
#include "data/train_pairs.h"
#include "tensor/io/tensor_io.h"
#include "tests/cli_runner.h"
#include "tests/temp_dir.h"
#include "train/run_setup.h"

using vps::test::vps_cli;

namespace {

using vps::test::has;
using vps::test::lines_of;

class VpsTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vps::test::TempDir();
    auto r = vps_cli({"synth", "--out", *dir_ / "data", "--splits", "train", "--videos", "2", "--frames", "8",
                      "--label-every", "2", "--width", "96", "--height", "64"});
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static vps::test::CliResult train(const std::string& run, std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--config", "configs/train_vpsnet_tiny.json", "--data", *dir_ / "data",
                                  "--out", *dir_ / run, "log_every=100", "schedule.warmup_iters=2"};
    a.insert(a.end(), extra.begin(), extra.end());
    return vps_cli(a);
  }
  static vps::test::TempDir* dir_;
};
vps::test::TempDir* VpsTrain::dir_ = nullptr;

}  // namespace

// The full run on one thread; the interrupted one on two, then resumed on three: every CPU kernel sums
// in an order that does not depend on the thread count (docs/determinism.md), so the weights agree bit
// for bit.
TEST_F(VpsTrain, LogCheckpointsAndABitIdenticalResume) {
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  auto r = train("full", {"max_iters=6", "checkpoint_every=3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto log = lines_of(*dir_ / "full/log.jsonl");
  ASSERT_EQ(log.size(), 6u);
  nlohmann::json last = nlohmann::json::parse(log.back());
  EXPECT_EQ(last["iter"], 6);
  for (const char* k : {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask", "loss_match", "loss_segm",
                        "loss_pano", "lr", "data_time", "step_time", "max_rss_mb", "grad_norm", "grad_norm.track_head",
                        "grad_norm.backbone", "grad_norm.panopticFPN"})
    EXPECT_TRUE(last.contains(k)) << k;
  EXPECT_EQ(vps::data::read_json(*dir_ / "full/config.json")["max_iters"], 6);
  // interrupted at 3 (as a crash after the checkpoint), resumed to 6: the same weights
  omp_set_num_threads(2);
  r = train("part", {"max_iters=3", "checkpoint_every=3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  omp_set_num_threads(3);
  r = train("part", {"max_iters=6", "checkpoint_every=3", "--resume"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(lines_of(*dir_ / "part/log.jsonl").size(), 6u);
  auto a = vps::load_safetensors(*dir_ / "full/model.safetensors"), b = vps::load_safetensors(*dir_ / "part/model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.to_vector<float>(), b[i].second.to_vector<float>()) << a[i].first;
  }
  omp_set_num_threads(threads);
}

TEST_F(VpsTrain, RefusalsNameWhatIsWrong) {
  auto r = train("busy", {"max_iters=1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = train("busy", {"max_iters=1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "--resume")) << r.err;
  r = train("other", {"max_iters=1", "optimizer.lrr=0.1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "lrr")) << r.err;
  r = train("other2", {"max_iters=1", "noequals"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "key=value")) << r.err;
  // --force never deletes what vps did not write, nor the dataset
  vps::data::make_dirs(*dir_ / "mine");
  vps::data::write_file_atomic(*dir_ / "mine/notes.txt", "keep");
  r = train("mine", {"max_iters=1", "--force"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, ".vps-output")) << r.err;
  EXPECT_TRUE(vps::data::path_exists(*dir_ / "mine/notes.txt"));
  r = train("data", {"max_iters=1", "--force"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "is or holds the input")) << r.err;
  EXPECT_TRUE(vps::data::path_exists(*dir_ / "data/panoptic_gt_train_city_vps.json"));
  // one writer per run folder: a run held by another writer is refused at once, resume or not
  {
    vps::data::PathLock held(*dir_ / "busy");
    r = train("busy", {"max_iters=2", "--resume"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(has(r.err, "being written by another process (pid ")) << r.err;
    r = train("busy", {"max_iters=1", "--force"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(has(r.err, "being written by another process (pid ")) << r.err;
  }
  r = train("busy", {"max_iters=1", "--force"});  // released: the folder was vps's, so --force empties it
  EXPECT_EQ(r.rc, 0) << r.err;
  r = train("other3", {"--resume"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "no checkpoint")) << r.err;
  // a run that failed at its start (here: a model whose class count the dataset does not have) leaves
  // no checkpoint: the corrected command starts afresh without --resume or --force
  r = train("restart", {"max_iters=1", "data.flow=true"});  // the dataset has no flow folder
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(vps::data::path_exists(*dir_ / "restart/config.json"));
  r = train("restart", {"max_iters=1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(lines_of(*dir_ / "restart/log.jsonl").size(), 1u);
  // an exploding learning rate: the run stops at the first non-finite loss, naming the step and term,
  // and keeps the last good checkpoint
  r = train("nan", {"max_iters=40", "checkpoint_every=1", "optimizer.lr=1e12", "optimizer.clip_grad_norm=0",
                    "schedule.warmup_iters=0"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "training stopped at iteration")) << r.err;
  EXPECT_TRUE(has(r.err, "checkpoint.safetensors")) << r.err;
  EXPECT_TRUE(vps::data::path_exists(*dir_ / "nan/checkpoint.safetensors"));
}

// 30 iterations of the tiny model on the synthetic pairs: every loss term is lower at the end (means
// of the first and the last 5 steps).
// The run is the same on every machine, load and thread count (docs/determinism.md); before the kernels
// were deterministic, loss_rpn_cls once rose over these 30 steps under load in CI.
TEST_F(VpsTrain, EveryLossTermFalls) {
  auto r = train("falls", {"max_iters=30", "checkpoint_every=0", "optimizer.lr=0.01"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto log = lines_of(*dir_ / "falls/log.jsonl");
  ASSERT_EQ(log.size(), 30u);
  for (const char* k : {"loss_rpn_cls", "loss_cls", "loss_mask", "loss_segm", "loss_pano"}) {
    double first = 0, last = 0;
    for (size_t i = 0; i < 5; ++i) first += nlohmann::json::parse(log[i])[k].get<double>() / 5;
    for (size_t i = 25; i < 30; ++i) last += nlohmann::json::parse(log[i])[k].get<double>() / 5;
    EXPECT_LT(last, first) << k;
  }
}

// Same command, same result: a few steps of the tiny VPSNet-Track (and of SiamTrack's losses on top) on
// 1, 2 and 3 threads give bit-identical weights and the same logged losses.
TEST_F(VpsTrain, SameWeightsOnAnyThreadCount) {
  int threads = omp_get_max_threads();
  for (std::string cfg : {"configs/train_vpsnet_tiny.json", "configs/train_siamtrack_tiny.json"}) {
    std::vector<std::vector<std::pair<std::string, vps::Tensor>>> weights;
    std::vector<std::string> losses;
    for (int t : {1, 2, 3}) {
      omp_set_num_threads(t);
      std::string run = "threads" + std::to_string(t) + (cfg.find("siam") != std::string::npos ? "s" : "v");
      auto r = vps_cli({"train", "--config", cfg, "--data", *dir_ / "data", "--out", *dir_ / run, "max_iters=4",
                        "checkpoint_every=0", "schedule.warmup_iters=2"});
      ASSERT_EQ(r.rc, 0) << r.err;
      weights.push_back(vps::load_safetensors(*dir_ / (run + "/model.safetensors")));
      nlohmann::json last = nlohmann::json::parse(lines_of(*dir_ / (run + "/log.jsonl")).back());
      for (const char* k : {"data_time", "step_time", "max_rss_mb"}) last.erase(k);
      losses.push_back(last.dump());
    }
    omp_set_num_threads(threads);
    for (size_t t = 1; t < weights.size(); ++t) {
      SCOPED_TRACE(cfg + ": 1 thread vs " + std::to_string(t + 1));
      EXPECT_EQ(losses[t], losses[0]);
      ASSERT_EQ(weights[t].size(), weights[0].size());
      for (size_t i = 0; i < weights[0].size(); ++i)
        EXPECT_EQ(weights[t][i].second.to_vector<float>(), weights[0][i].second.to_vector<float>()) << weights[0][i].first;
    }
  }
}

// The sampler: the same sample for the same step; the reference is another labelled frame of the same
// video; a flipped pair is flipped together (GT boxes mirrored: x1' = W - x2 - 1).
TEST_F(VpsTrain, PairSamplerGivesPairsOfOneVideo) {
  vps::data::CityscapesVps ds(*dir_ / "data", "train");
  vps::data::PairOptions o;
  o.seed = 3;
  vps::data::PairSampler s(ds, o);
  for (int64_t step = 0; step < 6; ++step) {
    vps::Batch a = s.sample(step), b = s.sample(step);
    EXPECT_EQ(a.frame.image_id, b.frame.image_id);
    EXPECT_EQ(a.frame.image.to_vector<float>(), b.frame.image.to_vector<float>());
    ASSERT_TRUE(a.reference.has_value());
    EXPECT_EQ(a.frame.video_id, a.reference->video_id);
    EXPECT_NE(a.frame.image_id, a.reference->image_id);
    EXPECT_EQ(a.frame.image.size(2) % 32, 0);
    EXPECT_EQ(a.frame.gt.boxes.size(0), a.frame.gt.track_ids.size(0));
  }
  vps::Frame plain = s.frame(0, false), flipped = s.frame(0, true);
  auto pb = plain.gt.boxes.to_vector<float>(), fb = flipped.gt.boxes.to_vector<float>();
  ASSERT_EQ(pb.size(), fb.size());
  for (size_t i = 0; i + 3 < pb.size(); i += 4) {
    EXPECT_EQ(fb[i], float(plain.img_w) - pb[i + 2] - 1);
    EXPECT_EQ(fb[i + 2], float(plain.img_w) - pb[i] - 1);
  }
}

// The random crop (mmdet v1's RandomCrop): both frames of a pair are cut by one window, found here by
// search in the uncropped frames; boxes are shifted and clipped to the window, empty ones dropped with
// their masks; the window differs between steps; a bad crop size is refused.
TEST_F(VpsTrain, PairSamplerCropsBothFramesByOneWindow) {
  vps::data::CityscapesVps ds(*dir_ / "data", "train");
  vps::data::PairOptions o;
  o.seed = 5, o.flip = false, o.crop_h = 32, o.crop_w = 64;  // frames are 96x64: margins 32 x 32
  vps::data::PairSampler s(ds, o);
  auto index_of = [&](const std::string& name) {
    for (size_t i = 0; i < ds.frames().size(); ++i)
      if (ds.frames()[i].name == name) return i;
    ADD_FAILURE() << name;
    return size_t(0);
  };
  std::set<std::pair<int64_t, int64_t>> windows;
  for (int64_t step = 0; step < 8; ++step) {
    vps::Batch b = s.sample(step);
    ASSERT_EQ(b.frame.img_h, 32);
    ASSERT_EQ(b.frame.img_w, 64);
    ASSERT_EQ(b.frame.image.size(2), 32);
    ASSERT_EQ(b.frame.image.size(3), 64);
    vps::Frame full = s.frame(index_of(b.frame.image_id), false);
    vps::Frame full_ref = s.frame(index_of(b.reference->image_id), false);
    auto img = b.frame.image.to_vector<float>(), fimg = full.image.to_vector<float>();
    auto rimg = b.reference->image.to_vector<float>(), frimg = full_ref.image.to_vector<float>();
    auto at = [](const std::vector<float>& v, int64_t H, int64_t W, int64_t c, int64_t y, int64_t x) {
      return v[size_t((c * H + y) * W + x)];
    };
    int64_t wy = -1, wx = -1;
    for (int64_t y0 = 0; y0 <= 32 && wy < 0; ++y0)
      for (int64_t x0 = 0; x0 <= 32 && wy < 0; ++x0) {
        bool same = true;
        for (int64_t c = 0; c < 3 && same; ++c)
          for (int64_t y = 0; y < 32 && same; ++y)
            for (int64_t x = 0; x < 64 && same; ++x)
              same = at(img, 32, 64, c, y, x) == at(fimg, 64, 96, c, y0 + y, x0 + x) &&
                     at(rimg, 32, 64, c, y, x) == at(frimg, 64, 96, c, y0 + y, x0 + x);
        if (same) wy = y0, wx = x0;
      }
    ASSERT_GE(wy, 0) << "step " << step << ": no window of the full frames gives both cropped images";
    windows.insert({wy, wx});
    auto sem = b.frame.semantic.to_vector<int64_t>(), fsem = full.semantic.to_vector<int64_t>();
    for (int64_t y = 0; y < 32; ++y)
      for (int64_t x = 0; x < 64; ++x) ASSERT_EQ(sem[size_t(y * 64 + x)], fsem[size_t((wy + y) * 96 + wx + x)]);
    // expected GT: every full-frame box shifted, clipped to [0, 63] x [0, 31], kept when non-empty
    auto fb = full.gt.boxes.to_vector<float>(), cb = b.frame.gt.boxes.to_vector<float>();
    auto fid = full.gt.track_ids.to_vector<int64_t>(), cid = b.frame.gt.track_ids.to_vector<int64_t>();
    std::vector<float> want;
    std::vector<int64_t> want_ids;
    for (size_t i = 0; i < fid.size(); ++i) {
      float x1 = std::clamp(fb[4 * i] - float(wx), 0.f, 63.f), y1 = std::clamp(fb[4 * i + 1] - float(wy), 0.f, 31.f);
      float x2 = std::clamp(fb[4 * i + 2] - float(wx), 0.f, 63.f), y2 = std::clamp(fb[4 * i + 3] - float(wy), 0.f, 31.f);
      if (x2 > x1 && y2 > y1) want.insert(want.end(), {x1, y1, x2, y2}), want_ids.push_back(fid[i]);
    }
    EXPECT_EQ(cb, want) << "step " << step;
    EXPECT_EQ(cid, want_ids) << "step " << step;
    EXPECT_EQ(b.frame.gt.masks.size(0), int64_t(want_ids.size()));
    EXPECT_EQ(b.frame.gt.masks.size(1), 32);
  }
  EXPECT_GT(windows.size(), 2u) << "the crop window should vary with the step";
  o.crop_w = 0;
  EXPECT_THROW(vps::data::PairSampler(ds, o), std::exception);
}

// The scale ratio range (mmdet v1's Resize ratio_range): each step draws its own scale, both frames alike.
TEST_F(VpsTrain, PairSamplerDrawsTheScalePerStep) {
  vps::data::CityscapesVps ds(*dir_ / "data", "train");
  vps::data::PairOptions o;
  o.seed = 2, o.scale_ratio_lo = 0.5, o.scale_ratio_hi = 1.5;
  vps::data::PairSampler s(ds, o);
  std::set<int64_t> widths;
  for (int64_t step = 0; step < 8; ++step) {
    vps::Batch b = s.sample(step);
    EXPECT_GE(b.frame.img_w, 48);
    EXPECT_LE(b.frame.img_w, 144);
    EXPECT_EQ(b.frame.img_w, b.reference->img_w);
    EXPECT_EQ(b.frame.img_h, b.reference->img_h);
    EXPECT_EQ(b.frame.img_w, s.sample(step).frame.img_w);
    widths.insert(b.frame.img_w);
  }
  EXPECT_GT(widths.size(), 3u);
  o.scale_ratio_lo = 2, o.scale_ratio_hi = 1;
  EXPECT_THROW(vps::data::PairSampler(ds, o), std::exception);
}

// data.flow=true: the pairs carry the dataset's exact flow (vps synth --flow-offsets); without the folder
// the run is refused naming it.
TEST(VpsTrainFlow, DataFlowLoadsThePairFlowsOrNamesTheMissingFolder) {
  vps::test::TempDir dir;
  auto r = vps_cli({"synth", "--out", dir / "data", "--splits", "train", "--videos", "1", "--frames", "6",
                    "--label-every", "2", "--width", "64", "--height", "32", "--flow-offsets", "-2,2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", dir / "data", "--out", dir / "run",
               "data.flow=true", "max_iters=2", "log_every=100", "schedule.warmup_iters=1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  vps::data::remove_tree(dir / "data/train/flow");
  r = vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", dir / "data", "--out", dir / "run2",
               "data.flow=true", "max_iters=1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "data.flow") && has(r.err, "train/flow")) << r.err;
}

// --eval-every: the model runs over the val split during training and its VPQ goes to RUN/eval.jsonl.
TEST(VpsTrainEval, EvalEveryLogsVpq) {
  vps::test::TempDir dir;
  auto r = vps_cli({"synth", "--out", dir / "data", "--splits", "train,val", "--videos", "1", "--frames", "6",
                    "--label-every", "2", "--width", "64", "--height", "32"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", dir / "data", "--out", dir / "run",
               "--eval-every", "2", "max_iters=4", "log_every=100", "schedule.warmup_iters=1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto lines = lines_of(dir / "run/eval.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json j = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j["iter"], 4);
  for (const char* k : {"vpq", "vpq_thing", "vpq_stuff"}) EXPECT_TRUE(j[k].is_number()) << k;
  EXPECT_TRUE(vps::data::path_exists(dir / "run/eval_pred/pred.json"));
  // an evaluation that fails (no such split) stops the run after that step's checkpoint: it resumes
  r = vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", dir / "data", "--out", dir / "run2",
               "--eval-every", "2", "--eval-split", "test", "max_iters=4", "checkpoint_every=2", "log_every=100",
               "schedule.warmup_iters=1"});
  EXPECT_EQ(r.rc, 1);
  ASSERT_TRUE(vps::data::path_exists(dir / "run2/checkpoint.safetensors"));
  r = vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", dir / "data", "--out", dir / "run2",
               "--resume", "max_iters=3", "log_every=100", "schedule.warmup_iters=1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  auto log = lines_of(dir / "run2/log.jsonl");  // steps 1 and 2 before the failure, 3 after the resume
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(log[2])["iter"], 3);
}
