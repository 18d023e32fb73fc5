// MaskRCNN from a JSON config (configs/mask_rcnn_r50_fpn.json, configs/mask_rcnn_tiny.json) and its
// registration as model type "MaskRCNN".
#include "models/detection/mask_rcnn.h"
#include "models/registry.h"
#include "models/backbone/resnet_fpn.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

using nlohmann::json;
json section(const json& j, const std::string& key) { return j.value(key, json::object()); }

void assigner_sampler(const json& j, const std::string& w, MaxIoUAssignerOptions& a, RandomSamplerOptions& s) {
  a.pos_iou_thr = cfg::get_double(j, "pos_iou_thr", a.pos_iou_thr, w);
  a.neg_iou_thr = cfg::get_double(j, "neg_iou_thr", a.neg_iou_thr, w);
  a.min_pos_iou = cfg::get_double(j, "min_pos_iou", a.min_pos_iou, w);
  a.gt_max_assign_all = cfg::get_bool(j, "gt_max_assign_all", a.gt_max_assign_all, w);
  s.num = cfg::get_int(j, "num", s.num, w);
  s.pos_fraction = cfg::get_double(j, "pos_fraction", s.pos_fraction, w);
  s.neg_pos_ub = cfg::get_int(j, "neg_pos_ub", s.neg_pos_ub, w);
  s.add_gt_as_proposals = cfg::get_bool(j, "add_gt_as_proposals", s.add_gt_as_proposals, w);
}

const std::vector<std::string> kAssignKeys = {"pos_iou_thr", "neg_iou_thr", "min_pos_iou", "gt_max_assign_all",
                                              "num", "pos_fraction", "neg_pos_ub", "add_gt_as_proposals"};

std::vector<std::string> with(std::vector<std::string> base, const std::vector<std::string>& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

ProposalOptions proposal(const json& j, ProposalOptions p, const std::string& w) {
  cfg::check_keys(j, {"nms_pre", "nms_post", "max_num", "nms_thr", "min_bbox_size"}, w);
  p.nms_pre = cfg::get_int(j, "nms_pre", p.nms_pre, w);
  p.nms_post = cfg::get_int(j, "nms_post", p.nms_post, w);
  p.max_num = cfg::get_int(j, "max_num", p.max_num, w);
  p.nms_thr = cfg::get_double(j, "nms_thr", p.nms_thr, w);
  p.min_bbox_size = cfg::get_double(j, "min_bbox_size", p.min_bbox_size, w);
  return p;
}

}  // namespace

MaskRCNNOptions mask_rcnn_options_from_json(const json& c) {
  cfg::check_keys(c, {"type", "dtype", "seed", "backbone", "neck", "rpn_head", "bbox_head", "mask_head", "train_cfg",
                      "test_cfg"}, "MaskRCNN");
  MaskRCNNOptions o;
  json b = section(c, "backbone"), n = section(c, "neck");
  if (c.contains("dtype")) {
    if (!b.contains("dtype")) b["dtype"] = c.at("dtype");
    if (!n.contains("dtype")) n["dtype"] = c.at("dtype");
  }
  o.backbone = resnet_options_from_json(b, "backbone");
  o.neck = fpn_options_from_json(n, "neck");
  o.seed = uint64_t(cfg::get_int(c, "seed", 0, "MaskRCNN"));
  int64_t fpn_out = o.neck.out_channels;

  json r = section(c, "rpn_head");
  cfg::check_keys(r, {"type", "in_channels", "feat_channels", "anchor_scales", "anchor_ratios", "anchor_strides"}, "rpn_head");
  o.rpn_head.in_channels = cfg::get_int(r, "in_channels", fpn_out, "rpn_head");
  o.rpn_head.feat_channels = cfg::get_int(r, "feat_channels", fpn_out, "rpn_head");
  o.rpn_head.anchor_scales = cfg::get_doubles(r, "anchor_scales", o.rpn_head.anchor_scales, "rpn_head");
  o.rpn_head.anchor_ratios = cfg::get_doubles(r, "anchor_ratios", o.rpn_head.anchor_ratios, "rpn_head");
  o.rpn_head.anchor_strides = cfg::get_ints(r, "anchor_strides", o.rpn_head.anchor_strides, "rpn_head");

  json bb = section(c, "bbox_head");
  cfg::check_keys(bb, {"type", "in_channels", "roi_feat_size", "fc_out_channels", "num_classes", "target_stds"}, "bbox_head");
  o.bbox_head.in_channels = cfg::get_int(bb, "in_channels", fpn_out, "bbox_head");
  o.bbox_head.roi_feat_size = cfg::get_int(bb, "roi_feat_size", o.bbox_head.roi_feat_size, "bbox_head");
  o.bbox_head.fc_out_channels = cfg::get_int(bb, "fc_out_channels", o.bbox_head.fc_out_channels, "bbox_head");
  o.bbox_head.num_classes = cfg::get_int(bb, "num_classes", o.bbox_head.num_classes, "bbox_head");
  o.bbox_head.target_stds = cfg::get_doubles(bb, "target_stds", o.bbox_head.target_stds, "bbox_head");
  VPS_CHECK(o.bbox_head.target_stds.size() == 4, "config bbox_head.target_stds: expected 4 numbers");
  for (int i = 0; i < 4; ++i) {
    o.rcnn_train.target_stds[i] = o.bbox_head.target_stds[size_t(i)];
    o.rcnn_test.reg_weights[size_t(i)] = 1.0 / o.bbox_head.target_stds[size_t(i)];
  }

  json m = section(c, "mask_head");
  cfg::check_keys(m, {"type", "in_channels", "conv_channels", "num_convs", "num_classes"}, "mask_head");
  o.mask_head.in_channels = cfg::get_int(m, "in_channels", fpn_out, "mask_head");
  o.mask_head.conv_channels = cfg::get_int(m, "conv_channels", fpn_out, "mask_head");
  o.mask_head.num_convs = cfg::get_int(m, "num_convs", o.mask_head.num_convs, "mask_head");
  o.mask_head.num_classes = cfg::get_int(m, "num_classes", o.bbox_head.num_classes, "mask_head");

  json tr = section(c, "train_cfg");
  cfg::check_keys(tr, {"rpn", "rpn_proposal", "rcnn"}, "train_cfg");
  json trpn = section(tr, "rpn");
  cfg::check_keys(trpn, with(kAssignKeys, {"allowed_border", "pos_weight", "smoothl1_beta"}), "train_cfg.rpn");
  assigner_sampler(trpn, "train_cfg.rpn", o.rpn_train.assigner, o.rpn_train.sampler);
  o.rpn_train.allowed_border = cfg::get_double(trpn, "allowed_border", o.rpn_train.allowed_border, "train_cfg.rpn");
  o.rpn_train.pos_weight = cfg::get_double(trpn, "pos_weight", o.rpn_train.pos_weight, "train_cfg.rpn");
  o.rpn_bbox_beta = cfg::get_double(trpn, "smoothl1_beta", o.rpn_bbox_beta, "train_cfg.rpn");
  o.rpn_proposal = proposal(section(tr, "rpn_proposal"), ProposalOptions::train(), "train_cfg.rpn_proposal");
  json trc = section(tr, "rcnn");
  cfg::check_keys(trc, with(kAssignKeys, {"mask_size", "pos_weight", "smoothl1_beta"}), "train_cfg.rcnn");
  assigner_sampler(trc, "train_cfg.rcnn", o.rcnn_train.assigner, o.rcnn_train.sampler);
  o.rcnn_train.pos_weight = cfg::get_double(trc, "pos_weight", o.rcnn_train.pos_weight, "train_cfg.rcnn");
  o.mask_size = cfg::get_int(trc, "mask_size", o.mask_size, "train_cfg.rcnn");
  VPS_CHECK(o.mask_size > 0 && o.mask_size % 2 == 0, "config train_cfg.rcnn.mask_size: expected an even size");
  o.rcnn_bbox_beta = cfg::get_double(trc, "smoothl1_beta", o.rcnn_bbox_beta, "train_cfg.rcnn");

  json te = section(c, "test_cfg");
  cfg::check_keys(te, {"rpn", "rcnn"}, "test_cfg");
  o.rpn_test = proposal(section(te, "rpn"), ProposalOptions::test(), "test_cfg.rpn");
  json tec = section(te, "rcnn");
  cfg::check_keys(tec, {"score_thr", "nms_thr", "max_det", "class_agnostic_nms"}, "test_cfg.rcnn");
  o.rcnn_test.score_thr = cfg::get_double(tec, "score_thr", o.rcnn_test.score_thr, "test_cfg.rcnn");
  o.rcnn_test.nms_thr = cfg::get_double(tec, "nms_thr", o.rcnn_test.nms_thr, "test_cfg.rcnn");
  o.rcnn_test.max_det = cfg::get_int(tec, "max_det", o.rcnn_test.max_det, "test_cfg.rcnn");
  o.rcnn_test.class_agnostic_nms = cfg::get_bool(tec, "class_agnostic_nms", o.rcnn_test.class_agnostic_nms, "test_cfg.rcnn");
  return o;
}

VPS_REGISTER_MODEL("MaskRCNN", [](const nlohmann::json& c) -> std::shared_ptr<Model> {
  return std::make_shared<MaskRCNN>(mask_rcnn_options_from_json(c));
});

}  // namespace vps::models
