// MaskRCNN from a JSON config (configs/mask_rcnn_r50_fpn.json, configs/mask_rcnn_tiny.json) and its
// registration as model type "MaskRCNN".
#include "models/detection/mask_rcnn.h"
#include "models/config_reader.h"
#include "models/registry.h"
#include "models/backbone/resnet_fpn.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

void assigner_sampler(cfg::Reader& r, MaxIoUAssignerOptions& a, RandomSamplerOptions& s) {
  a.pos_iou_thr = r.get_double("pos_iou_thr", a.pos_iou_thr);
  a.neg_iou_thr = r.get_double("neg_iou_thr", a.neg_iou_thr);
  a.min_pos_iou = r.get_double("min_pos_iou", a.min_pos_iou);
  a.gt_max_assign_all = r.get_bool("gt_max_assign_all", a.gt_max_assign_all);
  s.num = r.get_int("num", s.num);
  s.pos_fraction = r.get_double("pos_fraction", s.pos_fraction);
  s.neg_pos_ub = r.get_int("neg_pos_ub", s.neg_pos_ub);
  s.add_gt_as_proposals = r.get_bool("add_gt_as_proposals", s.add_gt_as_proposals);
}

ProposalOptions proposal(cfg::Reader r, ProposalOptions p) {
  p.nms_pre = r.get_int("nms_pre", p.nms_pre);
  p.nms_post = r.get_int("nms_post", p.nms_post);
  p.max_num = r.get_int("max_num", p.max_num);
  p.nms_thr = r.get_double("nms_thr", p.nms_thr);
  p.min_bbox_size = r.get_double("min_bbox_size", p.min_bbox_size);
  return p;
}

}  // namespace

MaskRCNNOptions mask_rcnn_options(cfg::Reader& c) {
  c.accept({"type"});
  MaskRCNNOptions o;
  const std::string dtype = c.get_string("dtype", "f32");  // the backbone's and neck's unless they set one
  cfg::Reader b = c.section("backbone"), n = c.section("neck");
  o.backbone = resnet_options(b, dtype);
  o.neck = fpn_options(n, dtype);
  o.seed = uint64_t(c.get_int("seed", 0));
  int64_t fpn_out = o.neck.out_channels;

  // "type" inside a head names mmdetection's class; it is informational here.
  cfg::Reader r = c.section("rpn_head");
  r.accept({"type"});
  o.rpn_head.in_channels = r.get_int("in_channels", fpn_out);
  o.rpn_head.feat_channels = r.get_int("feat_channels", fpn_out);
  o.rpn_head.anchor_scales = r.get_doubles("anchor_scales", o.rpn_head.anchor_scales);
  o.rpn_head.anchor_ratios = r.get_doubles("anchor_ratios", o.rpn_head.anchor_ratios);
  o.rpn_head.anchor_strides = r.get_ints("anchor_strides", o.rpn_head.anchor_strides);

  cfg::Reader bb = c.section("bbox_head");
  bb.accept({"type"});
  o.bbox_head.in_channels = bb.get_int("in_channels", fpn_out);
  o.bbox_head.roi_feat_size = bb.get_int("roi_feat_size", o.bbox_head.roi_feat_size);
  o.bbox_head.fc_out_channels = bb.get_int("fc_out_channels", o.bbox_head.fc_out_channels);
  o.bbox_head.num_classes = bb.get_int("num_classes", o.bbox_head.num_classes);
  o.bbox_head.target_stds = bb.get_doubles("target_stds", o.bbox_head.target_stds);
  VPS_CHECK(o.bbox_head.target_stds.size() == 4, "config bbox_head.target_stds: expected 4 numbers");
  for (int i = 0; i < 4; ++i) {
    o.rcnn_train.target_stds[i] = o.bbox_head.target_stds[size_t(i)];
    o.rcnn_test.reg_weights[size_t(i)] = 1.0 / o.bbox_head.target_stds[size_t(i)];
  }

  cfg::Reader m = c.section("mask_head");
  m.accept({"type"});
  o.mask_head.in_channels = m.get_int("in_channels", fpn_out);
  o.mask_head.conv_channels = m.get_int("conv_channels", fpn_out);
  o.mask_head.num_convs = m.get_int("num_convs", o.mask_head.num_convs);
  o.mask_head.num_classes = m.get_int("num_classes", o.bbox_head.num_classes);

  cfg::Reader tr = c.section("train_cfg");
  cfg::Reader trpn = tr.section("rpn");
  assigner_sampler(trpn, o.rpn_train.assigner, o.rpn_train.sampler);
  o.rpn_train.allowed_border = trpn.get_double("allowed_border", o.rpn_train.allowed_border);
  o.rpn_train.pos_weight = trpn.get_double("pos_weight", o.rpn_train.pos_weight);
  o.rpn_bbox_beta = trpn.get_double("smoothl1_beta", o.rpn_bbox_beta);
  o.rpn_proposal = proposal(tr.section("rpn_proposal"), ProposalOptions::train());
  cfg::Reader trc = tr.section("rcnn");
  assigner_sampler(trc, o.rcnn_train.assigner, o.rcnn_train.sampler);
  o.rcnn_train.pos_weight = trc.get_double("pos_weight", o.rcnn_train.pos_weight);
  o.mask_size = trc.get_int("mask_size", o.mask_size);
  VPS_CHECK(o.mask_size > 0 && o.mask_size % 2 == 0, "config train_cfg.rcnn.mask_size: expected an even size");
  o.rcnn_bbox_beta = trc.get_double("smoothl1_beta", o.rcnn_bbox_beta);

  cfg::Reader te = c.section("test_cfg");
  o.rpn_test = proposal(te.section("rpn"), ProposalOptions::test());
  cfg::Reader tec = te.section("rcnn");
  o.rcnn_test.score_thr = tec.get_double("score_thr", o.rcnn_test.score_thr);
  o.rcnn_test.nms_thr = tec.get_double("nms_thr", o.rcnn_test.nms_thr);
  o.rcnn_test.max_det = tec.get_int("max_det", o.rcnn_test.max_det);
  o.rcnn_test.class_agnostic_nms = tec.get_bool("class_agnostic_nms", o.rcnn_test.class_agnostic_nms);
  return o;
}

MaskRCNNOptions mask_rcnn_options_from_json(const nlohmann::json& j) {
  return cfg::read_all(j, "MaskRCNN", [](cfg::Reader& r) { return mask_rcnn_options(r); });
}

VPS_REGISTER_MODEL("MaskRCNN", [](const nlohmann::json& c) -> std::shared_ptr<Model> {
  return std::make_shared<MaskRCNN>(mask_rcnn_options_from_json(c));
});

}  // namespace vps::models
