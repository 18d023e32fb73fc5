// `vps infer` end to end on a `vps synth` dataset with a tiny VPSNet-Track (random weights): every
// video's frames run, the labelled ones are written as pan_pred/ + pred.json, and `vps eval vpq`
// reads the result; the export's rules on hand-built maps; bad inputs named, no half-written output.
#include <gtest/gtest.h>

#include <cstdio>

#include "data/fs_util.h"
#include "data/image_io.h"
#include "data/panoptic.h"
#include "data/path_lock.h"
#include "infer/pan_export.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "tensor/blas.h"
#include "tensor/io/tensor_io.h"
#include "tests/cli_runner.h"
#include "tests/temp_dir.h"

using vps::test::vps_cli;

namespace {
using vps::test::has;
}  // namespace

TEST(VpsInfer, SynthDatasetEndToEndThroughEval) {
  vps::test::TempDir dir;
  auto r = vps_cli({"synth", "--out", dir / "data", "--splits", "val", "--videos", "2", "--frames", "6", "--label-every",
                    "3", "--width", "96", "--height", "64"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto model = vps::models::build_model_from_file("configs/vpsnet_track_tiny.json");
  vps::models::save(*model, dir / "w.safetensors");
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--data",
               dir / "data", "--split", "val", "--out", dir / "pred", "--stuff-area-limit", "16"});
  ASSERT_EQ(r.rc, 0) << r.err;
  nlohmann::json pred = vps::data::read_json(dir / "pred/pred.json");
  ASSERT_EQ(pred["annotations"].size(), 4u);
  for (const auto& a : pred["annotations"]) {
    std::string id = a["image_id"];
    EXPECT_TRUE(vps::data::path_exists(dir / ("pred/pan_pred/" + id + ".png"))) << id;
  }
  r = vps_cli({"eval", "vpq", "--pred", dir / "pred", "--gt", dir / "data/val/panoptic_video", "--gt-json",
               dir / "data/panoptic_gt_val_city_vps.json", "--out", dir / "vpq", "--video-len", "2"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(vps::data::path_exists(dir / "vpq/vpq.json"));
  // --precision bf16 (where the CPU has bf16 products): the same frames written; another value is a usage error
  if (vps::blas::bf16_gemm_unavailable().empty()) {
    r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--data",
                 dir / "data", "--split", "val", "--out", dir / "pred_bf16", "--stuff-area-limit", "16", "--precision",
                 "bf16"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(vps::data::read_json(dir / "pred_bf16/pred.json")["annotations"].size(), 4u);
  }
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--data",
               dir / "data", "--out", dir / "pred_f16", "--precision", "f16"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(has(r.err, "f16")) << r.err;
  // a second run into the same folder needs --force; a missing weights file is named, and no output
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--data",
               dir / "data", "--out", dir / "pred"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "--force")) << r.err;
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "none.safetensors", "--data",
               dir / "data", "--out", dir / "pred2"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "none.safetensors")) << r.err;
  EXPECT_FALSE(vps::data::path_exists(dir / "pred2"));
  // a corrupt frame: the error names it, the output folder is not created
  std::string victim = vps::data::join_path(dir / "data/val/img_all", vps::data::list_files(dir / "data/val/img_all", ".png")[3]);
  vps::data::write_file_atomic(victim, std::string("not a png"));
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--data",
               dir / "data", "--out", dir / "pred3"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, victim)) << r.err;
  EXPECT_FALSE(vps::data::path_exists(dir / "pred3"));
  // a frame of another size than the dataset's JSON gives: named with both sizes before it runs
  vps::data::write_png(victim, vps::data::Image::make(48, 32, 3));
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--data",
               dir / "data", "--out", dir / "pred3"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, victim) && has(r.err, "48x32") && has(r.err, "96x64") && has(r.err, "JSON")) << r.err;
  // usage errors exit 2: a shard that does not exist, --merge without --data
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--data",
               dir / "data", "--out", dir / "pred4", "--shard", "3/2"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(has(r.err, "3/2")) << r.err;
  r = vps_cli({"infer", "--frames", dir / "data", "--out", dir / "pred4", "--merge", dir / "x"});
  EXPECT_EQ(r.rc, 2);
}

// A folder of the user's own frames (no GT): every frame written, --vis overlays and a GIF, --dump
// tensors; --data and --frames together are a usage error.
TEST(VpsInfer, OwnFramesWithVisAndDump) {
  vps::test::TempDir dir;
  auto r = vps_cli({"synth", "--out", dir / "data", "--splits", "val", "--videos", "1", "--frames", "3", "--label-every",
                    "3", "--width", "64", "--height", "32"});
  ASSERT_EQ(r.rc, 0) << r.err;
  vps::data::make_dirs(dir / "mine");
  for (const auto& f : vps::data::list_files(dir / "data/val/img_all", ".png")) {
    auto bytes = vps::data::read_file_bytes(vps::data::join_path(dir / "data/val/img_all", f));
    vps::data::write_file_atomic(dir / ("mine/" + f), bytes.data(), bytes.size());
  }
  auto model = vps::models::build_model_from_file("configs/vpsnet_track_tiny.json");
  vps::models::save(*model, dir / "w.safetensors");
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--frames",
               dir / "mine", "--out", dir / "pred", "--vis", "--dump", "fcn_output,detections"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto names = vps::data::list_files(dir / "mine", ".png");
  ASSERT_EQ(names.size(), 3u);
  for (const auto& n : names) {
    std::string stem = n.substr(0, n.size() - 4);
    EXPECT_TRUE(vps::data::path_exists(dir / ("pred/pan_pred/" + stem + ".png"))) << stem;
    EXPECT_TRUE(vps::data::path_exists(dir / ("pred/vis/" + stem + ".png"))) << stem;
    vps::NamedTensors t = vps::load_safetensors(dir / ("pred/dump/" + stem + ".safetensors"));
    ASSERT_EQ(t.size(), 5u);
    EXPECT_EQ(t[0].first, "fcn_output");
    EXPECT_EQ(t[0].second.shape(), (vps::Shape{1, 19, 32, 64}));
    EXPECT_EQ(t[4].first, "track_ids");
  }
  EXPECT_TRUE(vps::data::path_exists(dir / "pred/vis/video.gif"));
  EXPECT_EQ(vps::data::read_json(dir / "pred/pred.json")["annotations"].size(), 3u);
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--frames",
               dir / "mine", "--data", dir / "data", "--out", dir / "p2"});
  EXPECT_EQ(r.rc, 2);
  r = vps_cli({"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors", "--frames",
               dir / "mine", "--out", dir / "p3", "--dump", "everything"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(has(r.err, "everything")) << r.err;
  // output names that collide or cannot be written are refused up front, naming the files
  auto infer_mine = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights",
                                  dir / "w.safetensors", "--frames", dir / "mine", "--out", dir / "p4"};
    a.insert(a.end(), extra.begin(), extra.end());
    return vps_cli(a);
  };
  const std::string first = dir / ("mine/" + names[0]), stem = names[0].substr(0, names[0].size() - 4);
  const auto png = vps::data::read_file_bytes(first);
  for (const std::string& extra : {stem + ".jpg", std::string(".png"), std::string("bad\xff.png")}) {
    vps::data::write_file_atomic(dir / ("mine/" + extra), png.data(), png.size());
    r = infer_mine({});
    EXPECT_EQ(r.rc, 1) << extra;
    EXPECT_TRUE(has(r.err, extra == ".png" ? "no name before" : extra[0] == 'b' ? "\\xFF" : "both be written as"))
        << r.err;
    EXPECT_FALSE(vps::data::path_exists(dir / "p4"));
    std::remove((dir / ("mine/" + extra)).c_str());
  }
  // a frame above the pixel limit is refused before it is decoded, naming the flag
  r = infer_mine({"--max-pixels", "1000"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "64x32") && has(r.err, "--max-pixels")) << r.err;
  // one writer per output folder
  {
    vps::data::PathLock held(dir / "p4");
    r = infer_mine({});
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(has(r.err, "being written by another process")) << r.err;
  }
  EXPECT_EQ(infer_mine({}).rc, 0);
}

// get_unified_pan_result's rules: the semantic majority decides an instance region's class, the
// object id is taken by the rank among the present instance channels, small stuff becomes void.
TEST(VpsInfer, UnifyFrameRules) {
  // 4x4: instance 11 (label 2 -> class 12) over a region whose semantics say 12 (agrees);
  // instance 13 (label 1 -> 11) over semantics 0 in 3 of 4 pixels (a confident stuff majority: road);
  // instance 12 never wins a pixel, so instance 13's object id is obj_id[1], not obj_id[2]
  std::vector<int64_t> pan = {11, 11, 0, 0, 11, 11, 0, 0, 13, 13, 5, 5, 13, 13, 5, 5};
  std::vector<int64_t> seg = {12, 12, 0, 0, 12, 12, 0, 0, 0, 0, 5, 5, 0, 11, 5, 5};
  vps::infer::Pan2ch p = vps::infer::unify_frame(seg, pan, 4, 4, {2, 3, 1}, {7, 8, 9}, 11, 4);
  EXPECT_EQ(p.seg[0], 12);
  EXPECT_EQ(p.ins[0], 1);
  EXPECT_EQ(p.obj[0], 8);  // obj_id[0] + 1
  EXPECT_EQ(p.seg[8], 0);  // instance 13 became road
  EXPECT_EQ(p.ins[8], 0);
  EXPECT_EQ(p.seg[10], 5);
  // with the semantics disagreeing without a confident stuff majority, the instance keeps its label,
  // and its object id is obj_id[rank 1] = 8 + 1 (VPSNet's indexing), not obj_id[2] + 1
  seg = {12, 12, 0, 0, 12, 12, 0, 0, 3, 4, 5, 5, 6, 11, 5, 5};
  p = vps::infer::unify_frame(seg, pan, 4, 4, {2, 3, 1}, {7, 8, 9}, 11, 4);
  EXPECT_EQ(p.seg[8], 11);
  EXPECT_EQ(p.ins[8], 2);
  EXPECT_EQ(p.obj[8], 9);
  // stuff smaller than the limit is void
  p = vps::infer::unify_frame(seg, pan, 4, 4, {2, 3, 1}, {7, 8, 9}, 11, 5);
  EXPECT_EQ(p.seg[2], 255);  // road: 4 pixels < 5
  // duplicate object ids: the later occurrence gets a fresh id from 100
  p = vps::infer::unify_frame(seg, pan, 4, 4, {2, 3, 1}, {7, 7, 9}, 11, 4);
  EXPECT_EQ(p.obj[0], 8);
  EXPECT_EQ(p.obj[8], 101);
  // the options: each instance's own id (obj_id[2] + 1 for instance 13), and a stuff majority of 0.8
  // that 3 of 4 road pixels do not reach (the instance stays a thing)
  seg = {12, 12, 0, 0, 12, 12, 0, 0, 0, 0, 5, 5, 0, 11, 5, 5};
  vps::infer::UnifyRules rules;
  rules.ids_by_instance = true;
  rules.stuff_majority = 0.8;
  p = vps::infer::unify_frame(seg, pan, 4, 4, {2, 3, 1}, {7, 8, 9}, 11, 4, rules);
  EXPECT_EQ(p.seg[8], 11);
  EXPECT_EQ(p.obj[8], 10);
  EXPECT_EQ(p.obj[0], 8);
  rules.stuff_majority = 0.75;  // reached exactly: road
  p = vps::infer::unify_frame(seg, pan, 4, 4, {2, 3, 1}, {7, 8, 9}, 11, 4, rules);
  EXPECT_EQ(p.seg[8], 0);
}
