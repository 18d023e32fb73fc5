// SiamTrack's losses (losses/siamtrack_losses.h, models/vps/siamtrack.h): values and
// gradients against a direct PyTorch reading of the paper (tests/fixtures/siamtrack/make_siamtrack_fixtures.py:
// a class and a track id in one frame only, an instance empty in one frame, ignore pixels, N = 1, a
// warp from full-resolution images), float64 gradient checks of MaskPool, the contrastive loss, the
// tube loss and the warp loss with a fixed flow, CPU-vs-CUDA parity, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "losses/siamtrack_losses.h"
#include "ops/ops.h"
#include "sample/sample.h"
#include "tests/expect_error.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::expect_error;
using vps::testing::rnd;

namespace {

Tensor fx(const std::string& c, const std::string& n) { return vps::testing::fixture("siamtrack", c + "_" + n); }
std::vector<int64_t> ids(const Tensor& t) { return t.to(DType::i64).to_vector<int64_t>(); }

SiamTrackFrame fixture_frame(const std::string& c, const std::string& which) {
  SiamTrackFrame f;
  f.semantic = fx(c, "sem_" + which).to(DType::i64);
  f.masks = fx(c, "masks_" + which).to(DType::u8);
  f.track_ids = ids(fx(c, "ids_" + which));
  f.embedding = fx(c, "emb_" + which).set_requires_grad();
  f.pano_logits = fx(c, "logits_" + which).set_requires_grad();
  f.pano_target = fx(c, "target_" + which).to(DType::i64);
  return f;
}

// 0/1 masks (S, h, w) of random rectangles, one of them empty.
Tensor rect_masks(int64_t S, int64_t h, int64_t w) {
  Tensor m = Tensor::zeros({S, h, w}, DType::f64);
  for (int64_t s = 1; s < S; ++s) m.select(0, s).slice(0, s % h, h).slice(1, 0, 1 + (s * 3) % w).fill_(1);
  return m;
}

// Panoptic targets (h, w): random channels 0..channels-1 and ignore pixels.
Tensor target_map(int64_t h, int64_t w, int64_t channels, uint64_t seed) {
  Tensor r = rnd({h, w}, seed, 0, double(channels));
  std::vector<double> v = r.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 7 == 3 ? 255.0 : std::floor(v[i]);
  return Tensor::from_vector<double>(v, {h, w}).to(DType::i64);
}

}  // namespace

TEST(SiamTrackLosses, MatchPyTorch) {
  for (std::string c : {"main", "n1"}) {
    SCOPED_TRACE(c);
    SiamTrackFrame t = fixture_frame(c, "t"), r = fixture_frame(c, "r");
    SiamTrackLossOptions o;
    o.enabled = true;
    std::map<std::string, Tensor> out;
    add_siamtrack_losses(out, o, /*num_stuff=*/3, /*num_classes=*/5, t, r);
    for (const char* k : {"loss_contra_sem", "loss_contra_inst", "loss_tube"})
      EXPECT_NEAR(out.at(k).item<double>(), fx(c, k).item<double>(), 1e-10) << k;
    std::vector<int64_t> n = ids(fx(c, "counts"));
    EXPECT_EQ(out.at("siam_n_sem").item<double>(), double(n[0]));
    EXPECT_EQ(out.at("siam_n_inst").item<double>(), double(n[1]));
    EXPECT_EQ(out.at("siam_n_tubes").item<double>(), double(n[2]));
    add(add(out.at("loss_contra_sem"), out.at("loss_contra_inst")), out.at("loss_tube")).backward();
    EXPECT_ALLCLOSE(t.embedding.grad(), fx(c, "gemb_t"), 1e-10, 1e-8);
    EXPECT_ALLCLOSE(r.embedding.grad(), fx(c, "gemb_r"), 1e-10, 1e-8);
    EXPECT_ALLCLOSE(t.pano_logits.grad(), fx(c, "glogits_t"), 1e-10, 1e-8);
    EXPECT_ALLCLOSE(r.pano_logits.grad(), fx(c, "glogits_r"), 1e-10, 1e-8);
  }
  // the fixtures exercise what they claim: N = 1 gives zero contrastive losses, "main" has N >= 2
  EXPECT_EQ(fx("n1", "loss_contra_sem").item<double>(), 0.0);
  EXPECT_GT(fx("main", "loss_contra_inst").item<double>(), 0.0);
}

TEST(SiamTrackLosses, SwitchedOffTermsAreAbsentAndLambdasScale) {
  SiamTrackFrame t = fixture_frame("main", "t"), r = fixture_frame("main", "r");
  SiamTrackLossOptions o;
  o.enabled = true;
  o.contra_sem = false;
  o.lambda_segment = 2.0;
  o.lambda_pixel = 0.5;
  std::map<std::string, Tensor> out;
  add_siamtrack_losses(out, o, 3, 5, t, r);
  EXPECT_EQ(out.count("loss_contra_sem"), 0u);
  EXPECT_NEAR(out.at("loss_contra_inst").item<double>(), 2.0 * fx("main", "loss_contra_inst").item<double>(), 1e-10);
  EXPECT_NEAR(out.at("loss_tube").item<double>(), 0.5 * fx("main", "loss_tube").item<double>(), 1e-10);
}

TEST(SiamTrackLosses, MaskPoolGradcheck) {
  Tensor masks = rect_masks(4, 5, 6);
  vps::testing::gradcheck([&](const std::vector<Tensor>& v) { return mask_pool(v[0], masks); }, {rnd({1, 3, 5, 6}, 1)});
  // the mean under the mask, unit length; the empty mask gives zeros
  Tensor z = mask_pool(rnd({1, 3, 5, 6}, 1), masks);
  EXPECT_NEAR(norm(select(z, 0, 2)).item<double>(), 1.0, 1e-12);
  EXPECT_EQ(norm(select(z, 0, 0)).item<double>(), 0.0);
}

TEST(SiamTrackLosses, ContrastiveGradcheck) {
  vps::testing::gradcheck([](const std::vector<Tensor>& v) { return segment_contrastive_loss(v[0], v[1], 0.5); },
                          {rnd({4, 3}, 2), rnd({4, 3}, 3)});
  // identical pairs far from the others score lower than shuffled ones
  Tensor z = l2_normalize(rnd({3, 4}, 4), 1);
  Tensor shuffled = index_select(z, 0, Tensor::from_vector<int64_t>({1, 2, 0}, {3}));
  EXPECT_LT(segment_contrastive_loss(z, z).item<double>(), segment_contrastive_loss(z, shuffled).item<double>());
  EXPECT_EQ(segment_contrastive_loss(rnd({1, 4}, 5), rnd({1, 4}, 6)).item<double>(), 0.0);  // N < 2
}

TEST(SiamTrackLosses, TubeGradcheck) {
  Tensor tt = target_map(4, 5, 5, 7), tr = target_map(4, 5, 4, 8);
  std::vector<std::pair<int64_t, int64_t>> tubes{{0, 0}, {2, 2}, {3, 4}, {4, 3}};
  vps::testing::gradcheck(
      [&](const std::vector<Tensor>& v) { return tube_matching_loss(v[0], v[1], tt, tr, tubes); },
      {rnd({1, 5, 4, 5}, 9, -2, 2), rnd({1, 5, 4, 5}, 10, -2, 2)});
  // a perfect prediction (one-hot logits scaled up) gives ~0
  Tensor onehot = mul(permute(reshape(eq(unsqueeze(tt, 2), Tensor::arange(0, 5, 1, DType::i64)).to(DType::f64),
                                      {1, 4, 5, 5}), {0, 3, 1, 2}), 50.0);
  EXPECT_NEAR(tube_matching_loss(onehot, onehot, tt, tt, {{0, 0}, {1, 1}}).item<double>(), 0.0, 1e-12);
}

TEST(SiamTrackLosses, BadInputNamesShapes) {
  expect_error([] { mask_pool(rnd({1, 3, 5, 6}, 1), rect_masks(2, 5, 5)); }, {"mask_pool", "[1, 3, 5, 6]", "[2, 5, 5]"});
  expect_error([] { segment_contrastive_loss(rnd({3, 4}, 1), rnd({2, 4}, 2)); }, {"segment_contrastive_loss", "[3, 4]", "[2, 4]"});
  Tensor tt = target_map(4, 5, 5, 7);
  expect_error([&] { tube_matching_loss(rnd({1, 5, 4, 5}, 1), rnd({1, 5, 4, 5}, 2), tt, tt, {{0, 7}}); },
               {"tube_matching_loss", "(0, 7)"});
  expect_error([&] { tube_matching_loss(rnd({1, 5, 4, 6}, 1), rnd({1, 5, 4, 5}, 2), tt, tt, {{0, 0}}); },
               {"tube_matching_loss", "[1, 5, 4, 6]", "[4, 5]"});
  SiamTrackFrame t = fixture_frame("main", "t"), r = fixture_frame("main", "r");
  r.track_ids.pop_back();
  SiamTrackLossOptions o;
  o.enabled = true;
  std::map<std::string, Tensor> out;
  expect_error([&] { add_siamtrack_losses(out, o, 3, 5, t, r); }, {"reference", "track ids"});
}

TEST(SiamTrackLosses, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor masks = rect_masks(4, 5, 6);
  vps::testing::check_parity(
      [&](const std::vector<Tensor>& v) { return mask_pool(v[0], masks.to(v[0].device())); }, {rnd({1, 3, 5, 6}, 1)});
  vps::testing::check_parity([](const std::vector<Tensor>& v) { return segment_contrastive_loss(v[0], v[1]); },
                             {rnd({4, 3}, 2), rnd({4, 3}, 3)});
  Tensor tt = target_map(4, 5, 5, 7), tr = target_map(4, 5, 4, 8);
  vps::testing::check_parity(
      [&](const std::vector<Tensor>& v) { return tube_matching_loss(v[0], v[1], tt, tr, {{0, 0}, {3, 4}}); },
      {rnd({1, 5, 4, 5}, 9), rnd({1, 5, 4, 5}, 10)});
}

// The warping loss from full-resolution normalised images, flow and validity through
// add_siamtrack_losses (occlusion, x4 downsampling, the channels of the track ids in both frames).
TEST(SiamTrackWarp, MatchesPyTorch) {
  auto frame = [](const std::string& which) {
    SiamTrackFrame f;
    f.image = fx("warp", "image_" + which);
    f.track_ids = ids(fx("warp", "ids_" + which));
    f.pano_logits = fx("warp", "logits_" + which).set_requires_grad();
    const int64_t G = int64_t(f.track_ids.size()), h = f.pano_logits.size(2), w = f.pano_logits.size(3);
    f.semantic = Tensor::zeros({h, w}, DType::i64);
    f.masks = Tensor::zeros({G, h, w}, DType::u8);
    f.pano_target = Tensor::zeros({h, w}, DType::i64);
    return f;
  };
  SiamTrackFrame t = frame("t"), r = frame("r");
  SiamTrackLossOptions o;
  o.enabled = true;
  o.contra_sem = o.contra_inst = o.tube = false;
  std::map<std::string, Tensor> out;
  add_siamtrack_losses(out, o, 3, 5, t, r, fx("warp", "flow"), fx("warp", "valid"));
  EXPECT_NEAR(out.at("loss_warp").item<double>(), fx("warp", "loss_warp").item<double>(), 1e-10);
  EXPECT_EQ(out.at("siam_warp_skipped").item<double>(), 0.0);
  out.at("loss_warp").backward();
  EXPECT_ALLCLOSE(t.pano_logits.grad(), fx("warp", "glogits_t"), 1e-10, 1e-8);
  EXPECT_ALLCLOSE(r.pano_logits.grad(), fx("warp", "glogits_r"), 1e-10, 1e-8);
  // the occlusion map alone; no flow: no loss_warp, the skip logged
  Tensor occ = mul(occlusion_map(vps::unit_range_image(t.image), vps::unit_range_image(r.image), fx("warp", "flow")),
                   fx("warp", "valid"));
  EXPECT_ALLCLOSE(occ, fx("warp", "occlusion"), 1e-12, 1e-8);
  EXPECT_GT(mean(fx("warp", "occlusion")).item<double>(), 0.1);  // the fixture's weights are not all ~0
  std::map<std::string, Tensor> none;
  add_siamtrack_losses(none, o, 3, 5, t, r);
  EXPECT_EQ(none.count("loss_warp"), 0u);
  EXPECT_EQ(none.at("siam_warp_skipped").item<double>(), 1.0);
}

// With a fixed flow (a little outside the image at places) and occlusion the loss is smooth in both
// logits except where a warped sample lands on an integer (not at these random flows).
TEST(SiamTrackWarp, Gradcheck) {
  Tensor flow = rnd({1, 2, 4, 5}, 11, -1.7, 1.7), occ = rnd({1, 1, 4, 5}, 12, 0, 1);
  std::vector<std::pair<int64_t, int64_t>> ch{{0, 0}, {1, 2}, {3, 1}};
  vps::testing::gradcheck([&](const std::vector<Tensor>& v) { return warp_loss(v[0], v[1], ch, flow, occ); },
                          {rnd({1, 4, 4, 5}, 13), rnd({1, 3, 4, 5}, 14)});
  // the flow is a constant: no gradient reaches it
  Tensor f = flow.detach().set_requires_grad();
  Tensor lt = rnd({1, 4, 4, 5}, 13).set_requires_grad();
  warp_loss(lt, rnd({1, 3, 4, 5}, 14), ch, f, occ).backward();
  EXPECT_FALSE(f.grad().defined());
  // downsampling: every 4th pixel, values in the small grid's pixels
  Tensor big = rnd({1, 2, 8, 12}, 15);
  Tensor small = downsample_flow(big, 2, 3);
  EXPECT_NEAR(small.select(1, 0).select(1, 1).select(1, 2).item<double>(),
              big.select(1, 0).select(1, 4).select(1, 8).item<double>() * 0.25, 1e-12);
  expect_error([] { warp_loss(rnd({1, 4, 4, 5}, 1), rnd({1, 3, 4, 5}, 2), {{0, 3}}, rnd({1, 2, 4, 5}, 3),
                              rnd({1, 1, 4, 5}, 4)); },
               {"warp_loss", "(0, 3)"});
  expect_error([] { warp_loss(rnd({1, 4, 4, 5}, 1), rnd({1, 3, 4, 5}, 2), {{0, 0}}, rnd({1, 2, 4, 4}, 3),
                              rnd({1, 1, 4, 5}, 4)); },
               {"warp_loss", "[1, 2, 4, 4]"});
}

TEST(SiamTrackWarp, CpuCudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor flow = rnd({1, 2, 4, 5}, 11, -1.7, 1.7), occ = rnd({1, 1, 4, 5}, 12, 0, 1);
  vps::testing::check_parity(
      [&](const std::vector<Tensor>& v) {
        return warp_loss(v[0], v[1], {{0, 0}, {1, 2}}, flow.to(v[0].device()), occ.to(v[0].device()));
      },
      {rnd({1, 4, 4, 5}, 13), rnd({1, 3, 4, 5}, 14)});
  vps::testing::check_parity(
      [&](const std::vector<Tensor>& v) { return occlusion_map(v[0], v[1], flow.to(v[0].device())); },
      {rnd({1, 3, 4, 5}, 15, 0, 1), rnd({1, 3, 4, 5}, 16, 0, 1)}, vps::testing::ParityOptions{1e-5, 1e-4, false});
}
