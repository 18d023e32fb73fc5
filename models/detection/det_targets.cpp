// RPN and RCNN targets: host-side assignment and sampling, then dense target tensors on the device.
#include "models/detection/det_targets.h"

#include <algorithm>

#include "layers/anchors.h"
#include "layers/box_coder.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

Tensor to_dev(const std::vector<double>& v, const Shape& s, DType dt, Device dev) {
  return Tensor::from_vector(v, s).to(dt).to(dev);
}

}  // namespace

double RPNTargets::avg_factor() const {
  return double(std::max<int64_t>(num_pos, 1) + std::max<int64_t>(num_neg, 1));
}

RPNTargets rpn_targets(const Tensor& anchors, const Tensor& valid_flags, const Tensor& gt_boxes, int64_t img_h,
                       int64_t img_w, const RPNTargetOptions& cfg, Generator& gen) {
  const char* op = "rpn_targets";
  check_boxes(op, "anchors", anchors);
  check_boxes(op, "gt_boxes", gt_boxes);
  int64_t m = anchors.size(0);
  VPS_CHECK(valid_flags.defined() && valid_flags.shape() == Shape{m} && valid_flags.dtype() == DType::u8, op,
            ": valid_flags ", valid_flags.defined() ? valid_flags.str() : "undefined", " must be u8 (M) for anchors ",
            anchors.str());
  VPS_CHECK(!cfg.sampler.add_gt_as_proposals, op, ": the RPN sampler cannot add GT boxes as proposals");
  std::vector<uint8_t> inside = anchor_inside_flags(anchors, valid_flags, img_h, img_w, cfg.allowed_border)
                                    .cpu().to_vector<uint8_t>();
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < m; ++i)
    if (inside[size_t(i)]) idx.push_back(i);
  Tensor a_in = index_select(anchors.cpu(), 0, Tensor::from_vector(idx, {int64_t(idx.size())}));
  Tensor gt = gt_boxes.cpu().to(anchors.dtype());
  AssignResult ar = assign_max_iou(a_in, gt, Tensor(), cfg.assigner);
  SamplingResult sr = random_sample(ar, a_in, gt, Tensor(), cfg.sampler, gen);

  std::vector<double> labels(size_t(m), 0), lw(size_t(m), 0), bt(size_t(m * 4), 0), bw(size_t(m * 4), 0);
  std::vector<int64_t> pos = sr.pos_inds.to_vector<int64_t>(), neg = sr.neg_inds.to_vector<int64_t>();
  if (!pos.empty()) {
    std::vector<double> d = bbox2delta(sr.pos_bboxes, sr.pos_gt_bboxes).to(DType::f64).to_vector<double>();
    for (size_t i = 0; i < pos.size(); ++i) {
      size_t a = size_t(idx[size_t(pos[i])]);
      labels[a] = 1;
      lw[a] = cfg.pos_weight > 0 ? cfg.pos_weight : 1.0;
      for (size_t c = 0; c < 4; ++c) {
        bt[a * 4 + c] = d[i * 4 + c];
        bw[a * 4 + c] = 1;
      }
    }
  }
  for (int64_t q : neg) lw[size_t(idx[size_t(q)])] = 1;
  RPNTargets t;
  DType dt = anchors.dtype();
  Device dev = anchors.device();
  t.labels = to_dev(labels, {m}, dt, dev);
  t.label_weights = to_dev(lw, {m}, dt, dev);
  t.bbox_targets = to_dev(bt, {m, 4}, dt, dev);
  t.bbox_weights = to_dev(bw, {m, 4}, dt, dev);
  t.num_pos = int64_t(pos.size());
  t.num_neg = int64_t(neg.size());
  return t;
}

RCNNTargets rcnn_targets(const Tensor& proposals, const Tensor& gt_boxes, const Tensor& gt_labels,
                         const RCNNTargetOptions& cfg, Generator& gen) {
  const char* op = "rcnn_targets";
  check_boxes(op, "proposals", proposals, /*allow5=*/true);
  check_boxes(op, "gt_boxes", gt_boxes);
  VPS_CHECK(gt_labels.defined() && gt_labels.dtype() == DType::i64 && gt_labels.shape() == Shape{gt_boxes.size(0)},
            op, ": gt_labels ", gt_labels.defined() ? gt_labels.str() : "undefined", " must be int64 (G) for gt_boxes ",
            gt_boxes.str());
  DType dt = proposals.dtype();
  Device dev = proposals.device();
  Tensor props = proposals.slice(1, 0, 4).cpu().contiguous();
  Tensor gt = gt_boxes.cpu().to(dt).contiguous();
  Tensor gl = gt_labels.cpu();
  AssignResult ar = assign_max_iou(props, gt, gl, cfg.assigner);
  SamplingResult sr = random_sample(ar, props, gt, gl, cfg.sampler, gen);
  int64_t p = sr.num_pos(), q = sr.num_neg(), k = p + q;

  RCNNTargets t;
  t.num_pos = p;
  t.rois = cat({Tensor::zeros({k, 1}, dt), sr.bboxes()}, 1).to(dev);
  t.labels = cat({sr.pos_gt_labels, Tensor::zeros({q}, DType::i64)}, 0).to(dev);
  std::vector<double> lw(size_t(k), 1.0);
  for (int64_t i = 0; i < p; ++i) lw[size_t(i)] = cfg.pos_weight > 0 ? cfg.pos_weight : 1.0;
  t.label_weights = to_dev(lw, {k}, dt, dev);
  BoxCoderParams bp;
  for (int c = 0; c < 4; ++c) bp.stds[c] = cfg.target_stds[c];
  Tensor pos_deltas = p > 0 ? bbox2delta(sr.pos_bboxes, sr.pos_gt_bboxes, bp) : Tensor::zeros({0, 4}, dt);
  t.bbox_targets = cat({pos_deltas, Tensor::zeros({q, 4}, dt)}, 0).to(dev);
  t.bbox_weights = cat({Tensor::ones({p, 4}, dt), Tensor::zeros({q, 4}, dt)}, 0).to(dev);
  t.pos_assigned_gt_inds = sr.pos_assigned_gt_inds.to(dev);
  return t;
}

}  // namespace vps::models
