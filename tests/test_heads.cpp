// Detection heads: RPN head (forward, anchors, proposals), multi-level RoI extraction, SharedFCBBoxHead
// and FCNMaskHead against torch fixtures (tests/fixtures/heads/make_heads.py); checkpoint names; float64
// gradchecks; non-contiguous input; CUDA parity (skips without GPU); bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "layers/box_coder.h"
#include "layers/nms.h"
#include "layers/roi_align.h"
#include "models/detection/bbox_head.h"
#include "models/detection/mask_head.h"
#include "models/detection/roi_extractor.h"
#include "models/detection/rpn_head.h"
#include "ops/ops.h"
#include "tensor/device.h"
#include "tests/det_fixture.h"
#include "tests/gradcheck.h"
#include "tests/heads_fixture.h"

using namespace vps;
using namespace vps::models;
using vps::testing::expect_error;
using vps::testing::heads_fixture;
using vps::testing::heads_param;

namespace {

RPNHeadOptions rpn_opts() {
  RPNHeadOptions o;
  o.in_channels = o.feat_channels = 8;
  return o;
}
// The six RPN parameters of the fixture, in the order conv w/b, cls w/b, reg w/b.
std::vector<Tensor> rpn_params() {
  std::vector<Tensor> p;
  for (const char* n : {"rpn_conv_w", "rpn_conv_b", "rpn_cls_w", "rpn_cls_b", "rpn_reg_w", "rpn_reg_b"})
    p.push_back(heads_param(n));
  return p;
}
void set_rpn(RPNHead& h, const std::vector<Tensor>& p, size_t at = 0) {
  h.rpn_conv->weight = p[at];
  h.rpn_conv->bias = p[at + 1];
  h.rpn_cls->weight = p[at + 2];
  h.rpn_cls->bias = p[at + 3];
  h.rpn_reg->weight = p[at + 4];
  h.rpn_reg->bias = p[at + 5];
}
std::vector<Tensor> rpn_feats() {
  std::vector<Tensor> f;
  for (int i = 0; i < 5; ++i) f.push_back(heads_fixture("rpn_feat" + std::to_string(i)));
  return f;
}

BBoxHeadOptions bbox_opts() {
  BBoxHeadOptions o;
  o.in_channels = 2;
  o.fc_out_channels = 16;
  return o;
}
std::vector<Tensor> bbox_params() {
  std::vector<Tensor> p;
  for (const char* n : {"bbox_fc0_w", "bbox_fc0_b", "bbox_fc1_w", "bbox_fc1_b", "bbox_cls_w", "bbox_cls_b",
                        "bbox_reg_w", "bbox_reg_b"})
    p.push_back(heads_param(n));
  return p;
}
void set_bbox(BBoxHead& h, const std::vector<Tensor>& p, size_t at = 0) {
  for (size_t i = 0; i < 2; ++i) {
    h.shared_fcs->at<nn::Linear>(i).weight = p[at + 2 * i];
    h.shared_fcs->at<nn::Linear>(i).bias = p[at + 2 * i + 1];
  }
  h.fc_cls->weight = p[at + 4];
  h.fc_cls->bias = p[at + 5];
  h.fc_reg->weight = p[at + 6];
  h.fc_reg->bias = p[at + 7];
}

MaskHeadOptions mask_opts() {
  MaskHeadOptions o;
  o.in_channels = o.conv_channels = 4;
  return o;
}
std::vector<Tensor> mask_params() {
  std::vector<Tensor> p;
  for (int i = 0; i < 4; ++i) {
    p.push_back(heads_param("mask_conv" + std::to_string(i) + "_w"));
    p.push_back(heads_param("mask_conv" + std::to_string(i) + "_b"));
  }
  for (const char* n : {"mask_up_w", "mask_up_b", "mask_logits_w", "mask_logits_b"}) p.push_back(heads_param(n));
  return p;
}
void set_mask(MaskHead& h, const std::vector<Tensor>& p, size_t at = 0) {
  for (size_t i = 0; i < 4; ++i) {
    h.convs[i]->weight = p[at + 2 * i];
    h.convs[i]->bias = p[at + 2 * i + 1];
  }
  h.upsample->weight = p[at + 8];
  h.upsample->bias = p[at + 9];
  h.conv_logits->weight = p[at + 10];
  h.conv_logits->bias = p[at + 11];
}

std::vector<Tensor> roi_feats() {
  std::vector<Tensor> f;
  for (int i = 0; i < 4; ++i) f.push_back(heads_fixture("roi_feat" + std::to_string(i)));
  return f;
}

std::vector<std::string> names(const nn::Module& m) {
  std::vector<std::string> out;
  for (auto& [n, t] : m.named_parameters()) out.push_back(n);
  return out;
}

std::vector<Tensor> with(std::vector<Tensor> a, const std::vector<Tensor>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(DetHeads, CheckpointNamesAndShapes) {
  RPNHead rpn(RPNHeadOptions{});
  EXPECT_EQ(names(rpn), (std::vector<std::string>{"rpn_conv.weight", "rpn_conv.bias", "rpn_cls.weight", "rpn_cls.bias",
                                                  "rpn_reg.weight", "rpn_reg.bias"}));
  EXPECT_EQ(rpn.num_anchors(), 3);
  EXPECT_EQ(rpn.rpn_cls->weight.shape(), (Shape{3, 256, 1, 1}));
  EXPECT_EQ(rpn.rpn_reg->weight.shape(), (Shape{12, 256, 1, 1}));
  BBoxHead bbox(BBoxHeadOptions{});
  EXPECT_EQ(names(bbox), (std::vector<std::string>{"shared_fcs.0.weight", "shared_fcs.0.bias", "shared_fcs.1.weight",
                                                   "shared_fcs.1.bias", "fc_cls.weight", "fc_cls.bias",
                                                   "fc_reg.weight", "fc_reg.bias"}));
  EXPECT_EQ(bbox.shared_fcs->at<nn::Linear>(0).weight.shape(), (Shape{1024, 12544}));
  EXPECT_EQ(bbox.fc_reg->weight.shape(), (Shape{36, 1024}));
  MaskHead mask(MaskHeadOptions{});
  std::vector<std::string> mn = names(mask);
  ASSERT_EQ(mn.size(), 12u);
  EXPECT_EQ(mn[0], "convs.0.conv.weight");
  EXPECT_EQ(mn[7], "convs.3.conv.bias");
  EXPECT_EQ(mn[8], "upsample.weight");
  EXPECT_EQ(mn[11], "conv_logits.bias");
  EXPECT_EQ(mask.upsample->weight.shape(), (Shape{256, 256, 2, 2}));
  EXPECT_EQ(mask.conv_logits->weight.shape(), (Shape{9, 256, 1, 1}));
  // mmdet init: biases 0, rpn weights N(0, 0.01).
  EXPECT_EQ(max(abs(rpn.rpn_conv->bias)).item<float>(), 0.0f);
  EXPECT_LT(max(abs(rpn.rpn_cls->weight)).item<float>(), 0.1f);
}

TEST(DetHeads, RPNForwardMatchesTorch) {
  RPNHead h(rpn_opts());
  set_rpn(h, rpn_params());
  auto [cls, deltas] = h.forward(rpn_feats());
  ASSERT_EQ(cls.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_ALLCLOSE(cls[size_t(i)], heads_fixture("rpn_cls" + std::to_string(i)), 1e-10, 1e-10);
    EXPECT_ALLCLOSE(deltas[size_t(i)], heads_fixture("rpn_reg" + std::to_string(i)), 1e-10, 1e-10);
  }
  std::vector<Tensor> anc = h.anchors(rpn_feats());
  EXPECT_EQ(anc[0].shape(), (Shape{8 * 12 * 3, 4}));
  EXPECT_EQ(anc[4].shape(), (Shape{3, 4}));
}

TEST(DetHeads, ProposalsMatchSpecReference) {
  RPNHead h(rpn_opts());
  set_rpn(h, rpn_params());
  auto [cls, deltas] = h.forward(rpn_feats());
  ProposalOptions cfg;
  cfg.nms_pre = 200;
  cfg.nms_post = 60;
  cfg.max_num = 100;
  Tensor p = h.get_proposals(cls, deltas, 1, 30, 45, cfg);
  EXPECT_FALSE(p.requires_grad());
  Tensor ref = heads_fixture("rpn_proposals");
  ASSERT_EQ(p.shape(), ref.shape());
  EXPECT_ALLCLOSE(p, ref, 1e-9, 1e-9);
  // Configs of the spec; min_bbox_size drops small boxes.
  EXPECT_EQ(ProposalOptions::train().nms_pre, 2000);
  EXPECT_EQ(ProposalOptions::test().max_num, 1000);
  cfg.min_bbox_size = 12;
  Tensor big = h.get_proposals(cls, deltas, 1, 30, 45, cfg);
  EXPECT_GT(big.size(0), 0);
  EXPECT_LT(big.size(0), p.size(0));
  std::vector<double> b = big.to_vector<double>();
  for (int64_t k = 0; k < big.size(0); ++k) {
    EXPECT_GE(b[size_t(5 * k + 2)] - b[size_t(5 * k)] + 1, 12);
    EXPECT_GE(b[size_t(5 * k + 3)] - b[size_t(5 * k + 1)] + 1, 12);
  }
}

// get_proposals ranks only the anchors whose logit can reach the top-k; check it against the plain
// pipeline (sigmoid of every anchor, then top-k) on float32 logits with tied and colliding scores:
// multiples of 0.25, logits 1e-9 apart (one float32 score 0.5) and saturated ones (score 1).
TEST(DetHeads, ProposalsTopKExactWithTiedScores) {
  RPNHeadOptions o = rpn_opts();
  o.anchor_strides = {4, 8};
  RPNHead h(o);
  std::vector<Tensor> cls, deltas;
  for (int64_t l = 0; l < 2; ++l) {
    int64_t hh = 6 >> l, ww = 8 >> l;
    std::vector<float> v = vps::testing::rnd({3 * hh * ww}, 10 + uint64_t(l)).to(DType::f32).to_vector<float>();
    for (size_t k = 0; k < v.size(); ++k)
      v[k] = k % 3 == 0 ? std::round(v[k] * 8) / 4 : k % 3 == 1 ? float(k % 5) * 1e-9f : 20 + 20 * v[k];
    Tensor c = Tensor::from_vector(v, {1, 3, hh, ww});
    cls.push_back(cat({c * 0.5, c}, 0));  // image 1 is the one used
    deltas.push_back(vps::testing::rnd({2, 12, hh, ww}, 20 + uint64_t(l), -0.5, 0.5).to(DType::f32));
  }
  ProposalOptions cfg;
  cfg.nms_pre = 20;
  cfg.nms_post = 15;
  cfg.max_num = 25;
  cfg.nms_thr = 0.5;
  std::vector<Tensor> anchors = h.anchors({Tensor::zeros({1, 8, 6, 8}), Tensor::zeros({1, 8, 3, 4})});
  std::vector<Tensor> levels;
  for (size_t l = 0; l < 2; ++l) {
    auto [s, d] = flatten_rpn_outputs({cls[l]}, {deltas[l]}, 1);
    Tensor sc = sigmoid(s);
    Tensor idx = Tensor::from_vector(topk_indices(sc.to(DType::f64).to_vector<double>(), cfg.nms_pre), {cfg.nms_pre});
    BoxCoderParams p;
    p.max_h = 30;
    p.max_w = 45;
    Tensor boxes = delta2bbox(index_select(anchors[l], 0, idx), index_select(d, 0, idx).contiguous(), p);
    sc = index_select(sc, 0, idx);
    Tensor keep = nms(boxes, sc, cfg.nms_thr, true);
    keep = keep.slice(0, 0, std::min(keep.size(0), cfg.nms_post));
    levels.push_back(cat({index_select(boxes, 0, keep), index_select(sc, 0, keep).unsqueeze(1)}, 1));
  }
  Tensor all = cat(levels, 0);
  std::vector<int64_t> top = topk_indices(all.select(1, 4).to(DType::f64).to_vector<double>(), cfg.max_num);
  Tensor ref = index_select(all, 0, Tensor::from_vector(top, {int64_t(top.size())}));
  Tensor got = h.get_proposals(cls, deltas, 1, 30, 45, cfg);
  ASSERT_EQ(got.shape(), ref.shape());
  EXPECT_EQ(got.to_vector<float>(), ref.to_vector<float>());
}

TEST(DetHeads, FlattenRpnOutputsFollowsAnchorOrder) {
  RPNHead h(rpn_opts());
  set_rpn(h, rpn_params());
  auto [cls, deltas] = h.forward(rpn_feats());
  auto [s, d] = flatten_rpn_outputs(cls, deltas, 1);
  EXPECT_EQ(s.shape(), (Shape{3 * (96 + 24 + 6 + 2 + 1)}));
  EXPECT_EQ(d.shape(), (Shape{3 * (96 + 24 + 6 + 2 + 1), 4}));
  EXPECT_TRUE(s.requires_grad());
  // Level 1 (4x6), anchor a = 2 at (y, x) = (3, 5): row 288 + (3*6 + 5)*3 + 2.
  int64_t row = 288 + (3 * 6 + 5) * 3 + 2;
  EXPECT_DOUBLE_EQ(s.select(0, row).item<double>(), cls[1].select(0, 1).select(0, 2).select(0, 3).select(0, 5).item<double>());
  EXPECT_DOUBLE_EQ(d.select(0, row).select(0, 3).item<double>(),
                   deltas[1].select(0, 1).select(0, 4 * 2 + 3).select(0, 3).select(0, 5).item<double>());
}

TEST(DetHeads, RoIExtractorMatchesTorchvision) {
  std::vector<Tensor> f = roi_feats();
  for (Tensor& t : f) t.set_requires_grad(true);
  Tensor rois = heads_fixture("roi_rois");
  EXPECT_ALLCLOSE(map_roi_levels(rois).to(DType::f64), heads_fixture("roi_levels"), 0, 0);
  Tensor out = extract_roi_features(f, rois, 5);
  EXPECT_ALLCLOSE(out, heads_fixture("roi_out"), 1e-12, 1e-10);
  out.backward(heads_fixture("roi_grad_out"));
  for (int l = 0; l < 4; ++l) EXPECT_ALLCLOSE(f[size_t(l)].grad(), heads_fixture("roi_grad" + std::to_string(l)), 1e-12, 1e-10);
  // Non-contiguous features give the same result; no RoIs give (0,C,S,S).
  std::vector<Tensor> nc;
  for (const Tensor& t : roi_feats()) nc.push_back(t.permute({0, 1, 3, 2}).contiguous().permute({0, 1, 3, 2}));
  EXPECT_FALSE(nc[0].is_contiguous());
  EXPECT_ALLCLOSE(extract_roi_features(nc, rois, 5), heads_fixture("roi_out"), 1e-12, 1e-10);
  EXPECT_EQ(extract_roi_features(roi_feats(), Tensor::zeros({0, 5}, DType::f64), 7).shape(), (Shape{0, 2, 7, 7}));
  // RoIs that require grad are used as constants (no gradient w.r.t. boxes, as in mmdet).
  Tensor rg = rois.clone().set_requires_grad(true);
  EXPECT_ALLCLOSE(extract_roi_features(roi_feats(), rg, 5), heads_fixture("roi_out"), 1e-12, 1e-10);
}

TEST(DetHeads, BBoxHeadMatchesTorch) {
  BBoxHead h(bbox_opts());
  set_bbox(h, bbox_params());
  auto [cls, reg] = h.forward(heads_fixture("bbox_x"));
  EXPECT_ALLCLOSE(cls, heads_fixture("bbox_cls"), 1e-10, 1e-10);
  EXPECT_ALLCLOSE(reg, heads_fixture("bbox_reg"), 1e-10, 1e-10);
  // Non-contiguous input.
  Tensor xt = heads_fixture("bbox_x").permute({0, 1, 3, 2}).contiguous().permute({0, 1, 3, 2});
  EXPECT_ALLCLOSE(h.forward(xt).first, heads_fixture("bbox_cls"), 1e-10, 1e-10);
  EXPECT_EQ(h.options().num_classes, 9);
}

TEST(DetHeads, MaskHeadMatchesTorch) {
  MaskHead h(mask_opts());
  set_mask(h, mask_params());
  Tensor out = h.forward(heads_fixture("mask_x"));
  EXPECT_EQ(out.shape(), (Shape{2, 9, 10, 10}));
  EXPECT_ALLCLOSE(out, heads_fixture("mask_out"), 1e-10, 1e-10);
  MaskHead full(MaskHeadOptions{});
  EXPECT_EQ(full.forward(Tensor::zeros({1, 256, 14, 14})).shape(), (Shape{1, 9, 28, 28}));
}

TEST(DetHeads, GradcheckRPNHead) {
  std::vector<Tensor> in = {vps::testing::rnd({1, 8, 3, 4}, 1), vps::testing::rnd({1, 8, 2, 2}, 2)};
  in = with(in, rpn_params());
  RPNHeadOptions o = rpn_opts();
  o.anchor_strides = {4, 8};
  RPNHead h(o);
  vps::testing::GradcheckOptions go;
  go.max_entries = 12;
  vps::testing::gradcheck(
      vps::testing::MultiFn([&](const std::vector<Tensor>& x) {
        set_rpn(h, x, 2);
        auto [c, d] = h.forward({x[0], x[1]});
        auto [s, dd] = flatten_rpn_outputs(c, d, 0);
        return std::vector<Tensor>{s, dd};
      }),
      in, go);
}

TEST(DetHeads, GradcheckBBoxHead) {
  std::vector<Tensor> in = with({heads_fixture("bbox_x").slice(0, 0, 3)}, bbox_params());
  BBoxHead h(bbox_opts());
  vps::testing::GradcheckOptions go;
  go.max_entries = 12;
  vps::testing::gradcheck(vps::testing::MultiFn([&](const std::vector<Tensor>& x) {
                            set_bbox(h, x, 1);
                            auto [c, r] = h.forward(x[0]);
                            return std::vector<Tensor>{c, r};
                          }),
                          in, go);
}

TEST(DetHeads, GradcheckMaskHead) {
  std::vector<Tensor> in = with({heads_fixture("mask_x").slice(0, 0, 1)}, mask_params());
  MaskHead h(mask_opts());
  vps::testing::GradcheckOptions go;
  go.max_entries = 10;
  vps::testing::gradcheck(vps::testing::SingleFn([&](const std::vector<Tensor>& x) {
                            set_mask(h, x, 1);
                            return h.forward(x[0]);
                          }),
                          in, go);
}

TEST(DetHeads, GradcheckRoIExtractor) {
  std::vector<Tensor> in = roi_feats();
  Tensor rois = heads_fixture("roi_rois");
  vps::testing::GradcheckOptions go;
  go.max_entries = 24;
  vps::testing::gradcheck(
      vps::testing::SingleFn([&](const std::vector<Tensor>& x) { return extract_roi_features(x, rois, 3); }), in, go);
}

TEST(DetHeads, CudaParity) {
  VPS_REQUIRE_CUDA();
  RPNHead h(rpn_opts());
  vps::testing::check_parity(vps::testing::MultiFn([&](const std::vector<Tensor>& x) {
                               set_rpn(h, x, 5);
                               auto [c, d] = h.forward({x[0], x[1], x[2], x[3], x[4]});
                               ProposalOptions cfg;
                               cfg.nms_pre = 200;
                               std::vector<Tensor> out = c;
                               out.insert(out.end(), d.begin(), d.end());
                               out.push_back(h.get_proposals(c, d, 1, 30, 45, cfg));
                               return out;
                             }),
                             with(rpn_feats(), rpn_params()));
  Tensor rois = heads_fixture("roi_rois");
  vps::testing::check_parity(vps::testing::SingleFn([&](const std::vector<Tensor>& x) {
                               return extract_roi_features({x[0], x[1], x[2], x[3]}, x[4], 5);
                             }),
                             with(roi_feats(), {rois}));
  BBoxHead b(bbox_opts());
  vps::testing::check_parity(vps::testing::MultiFn([&](const std::vector<Tensor>& x) {
                               set_bbox(b, x, 1);
                               auto [c, r] = b.forward(x[0]);
                               return std::vector<Tensor>{c, r};
                             }),
                             with({heads_fixture("bbox_x")}, bbox_params()));
  MaskHead m(mask_opts());
  vps::testing::check_parity(vps::testing::SingleFn([&](const std::vector<Tensor>& x) {
                               set_mask(m, x, 1);
                               return m.forward(x[0]);
                             }),
                             with({heads_fixture("mask_x")}, mask_params()));
}

TEST(DetHeads, BadInput) {
  RPNHead rpn(rpn_opts());
  set_rpn(rpn, rpn_params());
  std::vector<Tensor> f = rpn_feats();
  f[2] = Tensor::zeros({2, 5, 2, 3}, DType::f64);
  expect_error([&] { rpn.forward(f); }, "RPNHead", "[2, 5, 2, 3]");
  expect_error([&] { rpn.forward({f[0]}); }, "RPNHead", "levels");
  auto [cls, deltas] = rpn.forward(rpn_feats());
  expect_error([&] { rpn.get_proposals(cls, deltas, 2, 30, 45, ProposalOptions::test()); }, "get_proposals", "image 2");
  deltas[0] = deltas[0].slice(1, 0, 8);
  expect_error([&] { flatten_rpn_outputs(cls, deltas, 0); }, "flatten_rpn_outputs", "[2, 8, 8, 12]");
  expect_error([&] { extract_roi_features(roi_feats(), Tensor::zeros({3, 4}, DType::f64), 7); }, "extract_roi_features",
               "[3, 4]");
  std::vector<Tensor> rf = roi_feats();
  expect_error([&] { extract_roi_features({rf[0], rf[1]}, heads_fixture("roi_rois"), 7); }, "extract_roi_features",
               "strides");
  BBoxHead bbox(bbox_opts());
  expect_error([&] { bbox.forward(Tensor::zeros({3, 4, 7, 7})); }, "BBoxHead", "[3, 4, 7, 7]");
  MaskHead mask(mask_opts());
  expect_error([&] { mask.forward(Tensor::zeros({3, 5, 14, 14})); }, "MaskHead", "[3, 5, 14, 14]");
  BBoxHeadOptions bad = bbox_opts();
  bad.num_classes = 1;
  expect_error([&] { BBoxHead b(bad); }, "BBoxHead", "num_classes 1");
}
