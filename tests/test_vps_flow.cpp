// `vps flow`: FlowNet2 (the width/32 fixture checkpoint) over the pairs of a synthetic set into a cache of
// pair-flow files at 1/4 resolution; resuming keeps good files and recomputes a broken one; --eval scores
// against the exact flow; the trainer reads the cache (data.flow=CACHE); the end-point error by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/fs_util.h"
#include "data/flow_io.h"
#include "data/panoptic.h"
#include "data/path_lock.h"
#include "infer/flow_cache.h"
#include "ops/ops.h"
#include "tensor/io/tensor_io.h"
#include "tests/cli_runner.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"

using vps::test::has;
using vps::test::vps_cli;

TEST(VpsFlow, CachesEveryPairResumesAndFeedsTheTrainer) {
  vps::test::TempDir d;
  auto r = vps_cli({"synth", "--out", d / "data", "--splits", "train", "--videos", "1", "--frames", "6", "--label-every",
                    "2", "--width", "128", "--height", "64", "--flow-offsets", "-2,2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = vps_cli({"convert", "tests/fixtures/flownet2/checkpoint_w32.pth.tar", d / "w.safetensors", "--key", "state_dict"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<std::string> cmd = {"flow", "--weights", d / "w.safetensors", "--width-divisor", "32", "--data",
                                  d / "data", "--pairs", "offsets=-2,2", "--out", d / "cache"};
  r = vps_cli(cmd);
  ASSERT_EQ(r.rc, 0) << r.err;
  // labelled frames 2, 4, 6: (2,4) (4,2) (4,6) (6,4); 2-2 and 6+2 clamp onto the frame itself
  std::vector<std::string> files = vps::data::list_files(d / "cache", ".safetensors");
  ASSERT_EQ(files.size(), 4u);
  auto stamps = [&] {
    std::vector<std::filesystem::file_time_type> t;
    for (const auto& n : files) t.push_back(std::filesystem::last_write_time(d / "cache/" + n));
    return t;
  };
  auto first = stamps();
  vps::data::PairFlow f = vps::data::read_pair_flow(d / "cache/" + files[0]);
  EXPECT_EQ(f.flow.size(1), 16);
  EXPECT_EQ(f.flow.size(2), 32);
  EXPECT_EQ(f.scale, 0.25);
  EXPECT_EQ(f.source, "flownet2");
  r = vps_cli(cmd);  // resumed: every file kept as it is
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(stamps(), first);
  const std::vector<uint8_t> bytes1 = vps::data::read_file_bytes(d / "cache/" + files[1]);
  const std::vector<uint8_t> bytes2 = vps::data::read_file_bytes(d / "cache/" + files[2]);
  { std::ofstream(d / "cache/" + files[1], std::ios::trunc) << "broken"; }
  {  // a file holding a NaN (saved around write_pair_flow, which refuses one): unreadable, so recomputed
    std::map<std::string, std::string> md;
    vps::NamedTensors t = vps::load_safetensors(d / "cache/" + files[2], vps::kCPU, &md);
    for (auto& [name, v] : t)
      if (name == "flow") v.data<float>()[7] = NAN;
    vps::save_safetensors(d / "cache/" + files[2], t, md);
    vps::testing::expect_error([&] { vps::data::read_pair_flow(d / "cache/" + files[2]); },
                               {files[2], "non-finite", "channel 0, y 0, x 7"});
  }
  r = vps_cli(cmd);  // the broken and the NaN file are computed again, the others kept
  ASSERT_EQ(r.rc, 0) << r.err;
  auto again = stamps();
  EXPECT_EQ(again[0], first[0]);
  EXPECT_EQ(again[3], first[3]);
  EXPECT_EQ(vps::data::read_file_bytes(d / "cache/" + files[1]), bytes1);  // the same flow, recomputed
  EXPECT_EQ(vps::data::read_file_bytes(d / "cache/" + files[2]), bytes2);
  cmd.push_back("--eval");
  r = vps_cli(cmd);
  ASSERT_EQ(r.rc, 0) << r.err;
  nlohmann::json epe = vps::data::read_json(d / "cache/epe.json");
  EXPECT_EQ(epe["pairs"], 4);
  EXPECT_GE(epe["epe_quarter_px"].get<double>(), 0.0);
  r = vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", d / "data", "--out", d / "run",
               "data.flow=" + (d / "cache"), "max_iters=2", "log_every=100", "schedule.warmup_iters=1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  {  // one writer per cache folder; the cache is never the dataset
    vps::data::PathLock held(d / "cache");
    r = vps_cli(cmd);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(has(r.err, "being written by another process")) << r.err;
  }
  r = vps_cli({"flow", "--weights", d / "w.safetensors", "--width-divisor", "32", "--data", d / "data", "--pairs",
               "offsets=-2,2", "--out", d / "data"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "is or holds the input")) << r.err;
  r = vps_cli({"flow", "--weights", d / "w.safetensors", "--data", d / "data", "--pairs", "10", "--out", d / "c2"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(has(r.err, "offsets=")) << r.err;
}

// The exact flow is brought to the estimate's grid with its values scaled: 4 px on a 4x4 grid is 2 px on
// 2x2, so an estimate of (1, 1) is sqrt(2) away; invalid pixels do not count.
TEST(VpsFlow, EndPointErrorOnTheEstimatesGrid) {
  vps::data::PairFlow exact, est;
  exact.flow = vps::Tensor::from_vector<float>(std::vector<float>(16, 4.f), {1, 4, 4});
  exact.flow = vps::cat({exact.flow, vps::Tensor::zeros({1, 4, 4})}, 0);
  exact.valid = vps::Tensor::full({1, 4, 4}, 1.0, vps::DType::u8);
  est.flow = vps::Tensor::full({2, 2, 2}, 1.0);
  est.valid = vps::Tensor::from_vector<uint8_t>({1, 1, 1, 0}, {1, 2, 2});
  EXPECT_NEAR(vps::infer::flow_epe(est, exact), std::sqrt(2.0), 1e-6);
  est.valid = vps::Tensor::zeros({1, 2, 2}, vps::DType::u8);
  EXPECT_EQ(vps::infer::flow_epe(est, exact), -1);
}
