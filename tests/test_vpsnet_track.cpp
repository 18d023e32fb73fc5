// VPSNet-Track (models/vps/vpsnet_track.h): VPSNet's keys beyond Mask R-CNN's, the eight losses of a
// training pair with gradients reaching every head, a test pass (the dummy path of an untrained
// model), a video through infer::OnlineTracker, and bad pairs.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "infer/tracker.h"
#include "models/registry.h"
#include "models/vps/vpsnet_track.h"
#include "models/weights_io.h"
#include "ops/ops.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"

using namespace vps;
using models::Batch;
using models::Frame;

namespace {

std::shared_ptr<models::VPSNetTrack> tiny() {
  auto m = std::dynamic_pointer_cast<models::VPSNetTrack>(models::build_model_from_file("configs/vpsnet_track_tiny.json"));
  EXPECT_TRUE(m);
  return m;
}

// A 64x96 frame with two objects (track ids given) on a semantic map of stuff ids 0..10.
Frame make_frame(uint64_t seed, const std::vector<int64_t>& track_ids, int shift) {
  Frame f;
  f.image = vps::testing::rnd({1, 3, 64, 96}, seed).to(DType::f32);
  f.img_h = 64, f.img_w = 96;
  std::vector<float> boxes = {float(8 + shift), 10, float(40 + shift), 45, 50, float(5 + shift), 90, float(30 + shift)};
  std::vector<uint8_t> masks(size_t(2 * 64 * 96), 0);
  std::vector<int64_t> sem(size_t(64 * 96));
  for (int64_t p = 0; p < 64 * 96; ++p) sem[size_t(p)] = (p / 96) < 32 ? 10 : 0;  // sky over road
  for (int o = 0; o < 2; ++o)
    for (int y = int(boxes[size_t(4 * o + 1)]); y <= int(boxes[size_t(4 * o + 3)]); ++y)
      for (int x = int(boxes[size_t(4 * o)]); x <= int(boxes[size_t(4 * o + 2)]); ++x) {
        masks[size_t((o * 64 + y) * 96 + x)] = 1;
        sem[size_t(y * 96 + x)] = o == 0 ? 13 : 11;  // car, person
      }
  f.gt.boxes = Tensor::from_vector<float>(boxes, {2, 4});
  f.gt.labels = Tensor::from_vector<int64_t>({3, 1}, {2});
  f.gt.masks = Tensor::from_vector<uint8_t>(masks, {2, 64, 96});
  f.gt.track_ids = Tensor::from_vector<int64_t>(track_ids, {2});
  f.semantic = Tensor::from_vector<int64_t>(sem, {64, 96});
  return f;
}

}  // namespace

// The keys VPSNet-Track adds to Mask R-CNN are exactly the track head's and panopticFPN's of the
// checkpoint list (docs/vpsnet-track.md), with their shapes; Mask R-CNN's keys are unchanged.
TEST(VPSNetTrack, KeysBeyondMaskRCNNAreVPSNets) {
  nlohmann::json c = models::load_config("configs/vpsnet_track_r50.json");
  auto m = models::build_model(c);
  for (const char* k : {"panopticFPN", "track_head", "panoptic"}) c.erase(k);
  c["type"] = "MaskRCNN";
  auto base = models::build_model(c);
  std::map<std::string, Shape> extra;
  std::set<std::string> base_keys;
  for (auto& [k, t] : base->state_dict()) base_keys.insert(k);
  for (auto& [k, t] : m->state_dict())
    if (!base_keys.erase(k)) extra[k] = t.shape();
  EXPECT_TRUE(base_keys.empty()) << "Mask R-CNN keys missing from VPSNetTrack: " << *base_keys.begin();
  std::map<std::string, Shape> want = {{"track_head.fcs.0.weight", {1024, 12544}}, {"track_head.fcs.0.bias", {1024}},
                                       {"track_head.fcs.1.weight", {1024, 1024}},   {"track_head.fcs.1.bias", {1024}},
                                       {"panopticFPN.conv_pred.conv.weight", {19, 512, 1, 1}},
                                       {"panopticFPN.conv_pred.conv.bias", {19}}};
  const int64_t cin[3] = {256, 256, 128}, cout[3] = {256, 128, 128};
  for (int l = 0; l < 3; ++l) {
    std::string p = "panopticFPN.deform_convs.0." + std::to_string(3 * l);
    want[p + ".conv_offset.weight"] = {18, cin[l], 3, 3};
    want[p + ".conv_offset.bias"] = {18};
    want[p + ".conv.weight"] = {cout[l], cin[l], 3, 3};
    std::string g = "panopticFPN.deform_convs.0." + std::to_string(3 * l + 1);
    want[g + ".weight"] = {cout[l]};
    want[g + ".bias"] = {cout[l]};
  }
  EXPECT_EQ(extra, want);
}

TEST(VPSNetTrack, TrainingPairGivesTheEightLossesAndGradients) {
  auto m = tiny();
  Batch b;
  b.frame = make_frame(1, {7, 9}, 0);
  b.reference = make_frame(2, {9, 4}, 3);
  Generator gen(5);
  models::LossMap losses = m->forward_train(b, gen);
  for (const char* k : {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask", "loss_match", "loss_segm",
                        "loss_pano"}) {
    ASSERT_TRUE(losses.count(k)) << k;
    double v = losses[k].item_double();
    EXPECT_TRUE(std::isfinite(v) && v >= 0) << k << " = " << v;
  }
  EXPECT_GT(losses["loss_segm"].item_double(), 0.0);
  EXPECT_GT(losses["loss_pano"].item_double(), 0.0);
  models::Model::total_loss(losses).backward();
  for (const char* p : {"panopticFPN.conv_pred.conv.weight", "panopticFPN.deform_convs.0.0.conv.weight",
                        "track_head.fcs.1.weight", "mask_head.conv_logits.weight", "bbox_head.fc_cls.weight"}) {
    bool found = false;
    for (auto& [k, t] : m->named_parameters())
      if (k == p) {
        found = true;
        ASSERT_TRUE(t.grad().defined()) << p;
        EXPECT_GT(max(abs(t.grad())).item_double(), 0.0) << p;
      }
    EXPECT_TRUE(found) << p;
  }
}

TEST(VPSNetTrack, BadPairsAreRefusedByName) {
  auto m = tiny();
  Batch b;
  b.frame = make_frame(1, {7, 9}, 0);
  Generator gen(5);
  EXPECT_NE(vps::testing::error_of([&] { m->forward_train(b, gen); }).find("reference frame"), std::string::npos);
  b.reference = make_frame(2, {9, 4}, 3);
  b.frame.semantic = Tensor();
  EXPECT_NE(vps::testing::error_of([&] { m->forward_train(b, gen); }).find("semantic GT"), std::string::npos);
  b.frame = make_frame(1, {7, 9}, 0);
  b.frame.gt.track_ids = Tensor();
  EXPECT_NE(vps::testing::error_of([&] { m->forward_train(b, gen); }).find("track id"), std::string::npos);
}

// An untrained model detects nothing: the dummy detection flows through the panoptic head (keep {0},
// an empty instance channel); outputs have the unpadded size. Then two frames through the tracker.
TEST(VPSNetTrack, TestPassAndVideoAssociation) {
  auto m = tiny();
  m->eval();
  Frame f = make_frame(3, {1, 2}, 0);
  f.img_h = 60, f.img_w = 90;  // the image tensor is the padded 64x96
  models::OutputMap out = m->forward_test(f);
  EXPECT_EQ(out["panoptic"].shape(), (Shape{60, 90}));
  EXPECT_EQ(out["semantic"].shape(), (Shape{60, 90}));
  EXPECT_EQ(out["fcn_output"].shape(), (Shape{1, 19, 64, 96}));
  int64_t k = out["boxes"].size(0);
  EXPECT_EQ(out["track_ids"].numel(), k);
  EXPECT_EQ(out["panoptic_logits"].size(1), 11 + k);
  std::vector<int64_t> p = out["panoptic"].to_vector<int64_t>();
  EXPECT_TRUE(*std::max_element(p.begin(), p.end()) < 11 + k);
  infer::OnlineTracker tracker(*m->track_head);
  for (int frame = 0; frame < 2; ++frame) {
    models::VPSNetFrameOutputs fo = m->infer_frame(make_frame(4 + uint64_t(frame), {1, 2}, frame));
    std::vector<int64_t> ids = tracker.step(fo.roi_feats, fo.det.boxes, fo.det.labels, fo.det.scores, frame == 0);
    EXPECT_EQ(int64_t(ids.size()), fo.det.boxes.size(0));
    models::OutputMap o = m->compose(fo, ids, 64, 96);
    EXPECT_EQ(o["panoptic"].shape(), (Shape{64, 96}));
  }
}

// A FuseTrack-style checkpoint with VPSNet's full key list at reduced width, written by PyTorch in the
// legacy format (tests/fixtures/vpsnet_ckpt/make_vpsnet_ckpt.py): a Track model finds every key it
// has with its shape; only the FuseTrack keys (extra_neck.*, flownet2.*) are unused; loaded, it runs.
TEST(VPSNetTrack, LoadsAFuseTrackCheckpointByName) {
  const std::string ckpt = "tests/fixtures/vpsnet_ckpt/vpsnet_fusetrack_small.pth";
  const std::string config = "tests/fixtures/vpsnet_ckpt/vpsnet_track_small.json";
  bool complete = false;
  std::string report = models::inspect_against_model(ckpt, config, "", "", true, &complete);
  EXPECT_TRUE(complete) << report;
  EXPECT_NE(report.find("0 missing, 6 unexpected, 0 mis-shaped"), std::string::npos) << report;
  size_t pos = 0;
  while ((pos = report.find("unexpected: ", pos)) != std::string::npos) {
    pos += 12;
    std::string key = report.substr(pos, report.find('\n', pos) - pos);
    EXPECT_TRUE(key.rfind("extra_neck.", 0) == 0 || key.rfind("flownet2.", 0) == 0) << key;
  }
  auto m = std::dynamic_pointer_cast<models::VPSNetTrack>(models::build_model_from_file(config));
  models::LoadOptions lo;
  lo.strict = false;
  models::load(*m, ckpt, lo);
  m->eval();
  models::OutputMap out = m->forward_test(make_frame(9, {1, 2}, 0));
  EXPECT_EQ(out["panoptic"].shape(), (Shape{64, 96}));
}
