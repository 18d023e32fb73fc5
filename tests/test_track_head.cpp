// The track head (models/vps/track_head.h): VPSNet's keys and shapes, a PyTorch re-implementation
// (tests/fixtures/track/make_track_head.py: match scores, loss_match, gradients), a float64
// gradcheck; and the online association (infer/tracker.h) on hand-built cases: a new object,
// re-identification, two detections claiming one object, the memory overwrite and the reset.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "infer/tracker.h"
#include "models/vps/track_head.h"
#include "ops/ops.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;

namespace {
Tensor trk(const std::string& name) { return vps::testing::fixture("track", name); }

// A head whose embedding is the RoI feature itself: one FC, identity weight, zero bias, 1x1 RoIs of
// `dim` channels, so match scores are plain dot products of the features the test writes.
std::unique_ptr<models::TrackHead> identity_head(int64_t dim, double duplicate_iou = -1,
                                                std::vector<double> match_coeff = {1.0, 2.0, 10.0}) {
  models::TrackHeadOptions o;
  o.in_channels = dim, o.roi_feat_size = 1, o.fc_out_channels = dim, o.num_fcs = 1;
  o.duplicate_iou = duplicate_iou, o.match_coeff = match_coeff;
  auto h = std::make_unique<models::TrackHead>(o);
  auto& fc = h->fcs->at<nn::Linear>(0);
  std::vector<double> eye(size_t(dim * dim), 0.0);
  for (int64_t i = 0; i < dim; ++i) eye[size_t(i * dim + i)] = 1.0;
  fc.weight = Tensor::from_vector<double>(eye, {dim, dim}).to(DType::f32).set_requires_grad();
  fc.bias = Tensor::zeros({dim}).set_requires_grad();
  return h;
}

Tensor feats(const std::vector<std::vector<float>>& rows) {
  std::vector<float> v;
  for (auto& r : rows) v.insert(v.end(), r.begin(), r.end());
  return Tensor::from_vector<float>(v, {int64_t(rows.size()), int64_t(rows[0].size()), 1, 1});
}
Tensor boxes(const std::vector<std::vector<float>>& rows) {
  std::vector<float> v;
  for (auto& r : rows) v.insert(v.end(), r.begin(), r.end());
  return Tensor::from_vector<float>(v, {int64_t(rows.size()), 4});
}
Tensor i64(const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>(v, {int64_t(v.size())}); }
Tensor f32(const std::vector<float>& v) { return Tensor::from_vector<float>(v, {int64_t(v.size())}); }
}  // namespace

TEST(TrackHead, KeysAndShapesAreVPSNets) {
  models::TrackHead h(models::TrackHeadOptions{});
  auto sd = h.state_dict();
  ASSERT_EQ(sd.size(), 4u);
  EXPECT_EQ(sd[0].first, "fcs.0.weight");
  EXPECT_EQ(sd[0].second.shape(), (Shape{1024, 12544}));
  EXPECT_EQ(sd[1].first, "fcs.0.bias");
  EXPECT_EQ(sd[2].first, "fcs.1.weight");
  EXPECT_EQ(sd[2].second.shape(), (Shape{1024, 1024}));
  EXPECT_EQ(sd[3].first, "fcs.1.bias");
}

TEST(TrackHead, MatchesPyTorchReimplementation) {
  models::TrackHeadOptions o;
  o.in_channels = 4, o.fc_out_channels = 16;
  models::TrackHead h(o);
  for (int i = 0; i < 2; ++i) {
    auto& fc = h.fcs->at<nn::Linear>(size_t(i));
    fc.weight = trk("fcs." + std::to_string(i) + ".weight").set_requires_grad();
    fc.bias = trk("fcs." + std::to_string(i) + ".bias").set_requires_grad();
  }
  Tensor x = trk("x").set_requires_grad(), ref = trk("ref").set_requires_grad();
  Tensor score = h.match_score(x, ref);
  EXPECT_ALLCLOSE(score, trk("score"), 1e-12, 1e-12);
  Tensor loss = h.loss(score, trk("ids").to(DType::i64), trk("weights"));
  EXPECT_NEAR(loss.item_double(), trk("loss").item_double(), 1e-12);
  loss.backward();
  EXPECT_ALLCLOSE(x.grad(), trk("grad_x"), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(ref.grad(), trk("grad_ref"), 1e-12, 1e-12);
  EXPECT_ALLCLOSE(h.fcs->at<nn::Linear>(0).weight.grad(), trk("grad_fcs.0.weight"), 1e-12, 1e-12);
  // no positives: the loss is 0 (divided by max(#w>0, 1)), not NaN
  EXPECT_EQ(h.loss(score, trk("ids").to(DType::i64), Tensor::zeros({6}, DType::f64)).item_double(), 0.0);
  std::string m = vps::testing::error_of([&] { h.loss(score, i64({1, 2}), trk("weights")); });
  EXPECT_NE(m.find("[6, 4]"), std::string::npos) << m;
}

// A float64 gradcheck of loss_match through match_score, the parameters larger than the 0.01 init; returns
// the inputs it checked.
static std::vector<Tensor> gradcheck_match(models::TrackHead& h) {
  for (int i = 0; i < 2; ++i) {
    auto& fc = h.fcs->at<nn::Linear>(size_t(i));
    fc.weight = mul(fc.weight.to(DType::f64), 30.0).detach().set_requires_grad();
    fc.bias = vps::testing::rnd({5}, 10 + i, -0.3, 0.3).set_requires_grad();
  }
  Tensor x = vps::testing::rnd({4, 2, 2, 2}, 1).set_requires_grad(), ref = vps::testing::rnd({3, 2, 2, 2}, 2).set_requires_grad();
  Tensor ids = i64({0, 1, 3, 2}), w = Tensor::from_vector<double>({1, 1, 0, 1}, {4});
  vps::testing::gradcheck([&](const std::vector<Tensor>& v) { return h.loss(h.match_score(v[0], v[1]), ids, w); },
                          {x, ref});
  return {x, ref};
}

static models::TrackHeadOptions small_head(const std::string& match) {
  models::TrackHeadOptions o;
  o.in_channels = 2, o.roi_feat_size = 2, o.fc_out_channels = 5, o.seed = 3, o.match = match, o.temperature = 0.2;
  return o;
}

TEST(TrackHead, Gradcheck) {
  models::TrackHead h(small_head("dot"));
  gradcheck_match(h);
}

// The bounded option: cosine / temperature. Gradcheck in float64; the logits stay within 1/temperature
// however large the embeddings grow; an unknown match name is refused by name.
TEST(TrackHead, CosineMatchIsBoundedAndGradchecks) {
  models::TrackHeadOptions o = small_head("cosine");
  models::TrackHead h(o);
  std::vector<Tensor> in = gradcheck_match(h);
  Tensor big = mul(in[0].detach(), 1e4), big_ref = mul(in[1].detach(), 1e4);
  std::vector<double> s = h.match_score(big, big_ref).to_vector<double>();
  for (double v : s) EXPECT_LE(std::abs(v), 1 / 0.2 + 1e-9);
  // the same embeddings against themselves: the diagonal is exactly 1 / temperature
  std::vector<double> self = h.match_score(big, big).to_vector<double>();
  for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(self[size_t(i * 5 + i + 1)], 5.0, 1e-9);
  o.match = "l2";
  std::string m = vps::testing::error_of([&] { models::TrackHead bad(o); });
  EXPECT_NE(m.find("\"l2\""), std::string::npos) << m;
}

// Frame 1 starts the memory; frame 2 sees the same two objects in the other order plus a new one.
TEST(OnlineTracker, NewObjectsAndReidentification) {
  auto h = identity_head(3);
  infer::OnlineTracker t(*h);
  auto ids = t.step(feats({{5, 0, 0}, {0, 5, 0}}), boxes({{0, 0, 9, 9}, {20, 20, 29, 29}}), i64({1, 2}),
                    f32({0.9f, 0.8f}), true);
  EXPECT_EQ(ids, (std::vector<int64_t>{0, 1}));
  // [0,0,-5] scores 0 against both objects (dot 0) and has no shared label: column 0 (new) wins
  ids = t.step(feats({{0, 5, 0}, {0, 0, -5}, {5, 0, 0}}), boxes({{21, 20, 30, 29}, {50, 50, 59, 59}, {1, 0, 10, 9}}),
               i64({2, 3, 1}), f32({0.9f, 0.9f, 0.9f}), false);
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(t.num_objects(), 3);
}

// Two detections whose best match is object 0: the higher comprehensive score keeps it, the other is
// displaced (-1) and becomes a new object after the loop. Object 0's feature is overwritten by the
// winner's [3, 3]: a later [0, 4] matches it (dot 12); had it kept [4, 0] (dot 0, a far box, every
// column tied) it would be a new object.
TEST(OnlineTracker, TwoDetectionsClaimingOneObjectAndMemoryOverwrite) {
  auto h = identity_head(2);
  infer::OnlineTracker t(*h);
  t.step(feats({{4, 0}}), boxes({{0, 0, 9, 9}}), i64({1}), f32({0.9f}), true);
  auto ids = t.step(feats({{2, 0}, {3, 3}}), boxes({{2, 2, 11, 11}, {0, 0, 9, 9}}), i64({1, 1}), f32({0.9f, 0.9f}),
                    false);
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(t.num_objects(), 2);
  ids = t.step(feats({{0, 4}}), boxes({{50, 50, 59, 59}}), i64({1}), f32({0.9f}), false);
  EXPECT_EQ(ids, (std::vector<int64_t>{0}));
}

// duplicate_iou: detections that lose object 0 to A ([3, 0] on its box) keep id 0 when a chain of
// boxes of A's label overlapping by IoU > 0.1 links them to A (B: 50 / 150 px with A; E: none with A,
// 30 / 170 with B); C (no overlap) and D (overlap, other label) become new objects. The label weight is 0 here so that D still prefers object 0 to "new".
// Off (VPSNet), B becomes a new object too.
TEST(OnlineTracker, DuplicateDetectionsKeepTheObjectsId) {
  for (double dup : {0.1, -1.0}) {
    auto h = identity_head(2, dup, {1.0, 2.0, 0.0});
    infer::OnlineTracker t(*h);
    t.step(feats({{4, 0}}), boxes({{0, 0, 9, 9}}), i64({1}), f32({0.9f}), true);
    auto ids = t.step(feats({{3, 0}, {2, 0}, {2, 0}, {2, 0}, {2, 0}}),
                      boxes({{0, 0, 9, 9}, {5, 0, 14, 9}, {60, 60, 69, 69}, {4, 0, 13, 9}, {12, 0, 21, 9}}),
                      i64({1, 1, 1, 2, 1}), f32({0.9f, 0.9f, 0.9f, 0.9f, 0.9f}), false);
    if (dup > 0) {
      EXPECT_EQ(ids, (std::vector<int64_t>{0, 0, 1, 2, 0}));
      EXPECT_EQ(t.num_objects(), 3);
    } else {
      EXPECT_EQ(ids, (std::vector<int64_t>{0, 1, 2, 3, 4}));
      EXPECT_EQ(t.num_objects(), 5);
    }
  }
  models::TrackHeadOptions o;
  o.duplicate_iou = 1.0;
  std::string m = vps::testing::error_of([&] { models::TrackHead bad(o); });
  EXPECT_NE(m.find("duplicate_iou"), std::string::npos) << m;
}

TEST(OnlineTracker, FirstFrameResetsTheMemory) {
  auto h = identity_head(2);
  infer::OnlineTracker t(*h);
  t.step(feats({{4, 0}, {0, 4}}), boxes({{0, 0, 9, 9}, {10, 10, 19, 19}}), i64({1, 1}), f32({0.9f, 0.9f}), true);
  EXPECT_EQ(t.num_objects(), 2);
  auto ids = t.step(feats({{0, 4}}), boxes({{10, 10, 19, 19}}), i64({1}), f32({0.9f}), true);
  EXPECT_EQ(ids, (std::vector<int64_t>{0}));  // a new video: ids start again at 0
  EXPECT_EQ(t.num_objects(), 1);
  // an empty frame changes nothing; bad shapes are refused with the shapes
  EXPECT_TRUE(t.step(Tensor::zeros({0, 2, 1, 1}), Tensor::zeros({0, 4}), i64({}), f32({}), false).empty());
  std::string m = vps::testing::error_of([&] { t.step(feats({{1, 0}}), Tensor::zeros({2, 4}), i64({1}), f32({1}), false); });
  EXPECT_NE(m.find("[2, 4]"), std::string::npos) << m;
}
