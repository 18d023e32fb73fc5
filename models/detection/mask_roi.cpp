#include "models/detection/mask_roi.h"

#include <algorithm>
#include <numeric>

#include "autograd/grad_mode.h"
#include "layers/box_coder.h"
#include "layers/nms.h"
#include "models/detection/rpn_head.h"

namespace vps::models {
namespace {

void check_inputs(const char* op, const Tensor& rois, const Tensor& prob, const Tensor& pred, int64_t img_h,
                  int64_t img_w, const std::vector<double>& w) {
  VPS_CHECK(rois.defined() && rois.dim() == 2 && rois.size(1) == 5, op,
            ": rois must be (K,5) = (batch, x1, y1, x2, y2), got ", rois.defined() ? shape_str(rois.shape()) : "undefined");
  int64_t k = rois.size(0);
  VPS_CHECK(prob.defined() && prob.dim() == 2 && prob.size(0) == k && prob.size(1) >= 2, op,
            ": cls_prob must be (K,nc) with K = ", k, " and nc >= 2, got ", prob.defined() ? shape_str(prob.shape()) : "undefined");
  int64_t nc = prob.size(1);
  VPS_CHECK(pred.defined() && pred.dim() == 2 && pred.size(0) == k && pred.size(1) == 4 * nc, op,
            ": bbox_pred must be (K,4nc) = (", k, ",", 4 * nc, "), got ", pred.defined() ? shape_str(pred.shape()) : "undefined");
  VPS_CHECK(rois.dtype() == pred.dtype() && rois.device() == pred.device() && prob.device() == pred.device(), op,
            ": rois, cls_prob and bbox_pred must share device (and rois/bbox_pred the dtype)");
  VPS_CHECK(img_h > 0 && img_w > 0, op, ": bad image size ", img_h, "x", img_w);
  VPS_CHECK(w.size() == 4 && w[0] > 0 && w[1] > 0 && w[2] > 0 && w[3] > 0, op, ": reg_weights must be 4 positive values");
}

// Decoded boxes (K, 4nc) on the host as f64, plus probabilities (K, nc).
void decode_host(const Tensor& rois, const Tensor& pred, int64_t img_h, int64_t img_w, const std::vector<double>& w,
                 bool clamp_below, std::vector<double>* boxes) {
  BoxCoderParams p;
  for (int i = 0; i < 4; ++i) p.stds[i] = 1.0 / w[size_t(i)];
  p.clamp_below = clamp_below;
  p.max_h = double(img_h);
  p.max_w = double(img_w);
  Tensor b = delta2bbox(rois.slice(1, 1, 5).contiguous(), pred.contiguous(), p);
  *boxes = b.to(DType::f64).cpu().to_vector<double>();
}

// Candidates as device tensors: boxes (n,4) and scores (n) in dtype dt; NMS keep (host).
std::vector<int64_t> run_nms(const std::vector<double>& boxes, const std::vector<double>& scores,
                             const std::vector<int64_t>& labels, double thr, bool agnostic, DType dt, Device dev) {
  int64_t n = int64_t(scores.size());
  if (n == 0) return {};
  Tensor b = Tensor::from_vector<double>(boxes, {n, 4}).to(dt).to(dev);
  Tensor s = Tensor::from_vector<double>(scores, {n}).to(dt).to(dev);
  Tensor keep = agnostic ? nms(b, s, thr, true)
                         : batched_nms(b, s, Tensor::from_vector<int64_t>(labels, {n}, dev), thr, true);
  return keep.cpu().to_vector<int64_t>();
}

Detections make_detections(const std::vector<int64_t>& sel, const std::vector<double>& boxes,
                           const std::vector<double>& scores, const std::vector<int64_t>& labels, DType dt, Device dev) {
  std::vector<double> b, s;
  std::vector<int64_t> l;
  for (int64_t i : sel) {
    b.insert(b.end(), boxes.begin() + 4 * i, boxes.begin() + 4 * i + 4);
    s.push_back(scores[size_t(i)]);
    l.push_back(labels[size_t(i)]);
  }
  int64_t n = int64_t(sel.size());
  Detections d;
  d.boxes = Tensor::from_vector<double>(b, {n, 4}).to(dt).to(dev);
  d.scores = Tensor::from_vector<double>(s, {n}).to(dt).to(dev);
  d.labels = Tensor::from_vector<int64_t>(l, {n}, dev);
  return d;
}

// The score threshold as torch compares it with a tensor of the scores' dtype (float32 rounds it).
double dtype_threshold(double thr, const Tensor& scores) {
  return scores.dtype() == DType::f32 ? double(float(thr)) : thr;
}

}  // namespace

Detections mask_roi_select(const Tensor& rois, const Tensor& cls_prob, const Tensor& bbox_pred, int64_t img_h,
                           int64_t img_w, const MaskROIOptions& opt) {
  check_inputs("mask_roi_select", rois, cls_prob, bbox_pred, img_h, img_w, opt.reg_weights);
  autograd::NoGradGuard ng;
  int64_t k = rois.size(0), nc = cls_prob.size(1);
  std::vector<double> dec, prob = cls_prob.to(DType::f64).cpu().to_vector<double>();
  if (k > 0) decode_host(rois, bbox_pred, img_h, img_w, opt.reg_weights, /*clamp_below=*/false, &dec);
  double thr = dtype_threshold(opt.score_thr, cls_prob);
  std::vector<double> boxes, scores;
  std::vector<int64_t> labels;
  for (int64_t r = 0; r < k; ++r)
    for (int64_t c = 1; c < nc; ++c) {
      double s = prob[size_t(r * nc + c)];
      if (!(s > thr)) continue;
      boxes.insert(boxes.end(), dec.begin() + 4 * (r * nc + c), dec.begin() + 4 * (r * nc + c) + 4);
      scores.push_back(s);
      labels.push_back(c);
    }
  std::vector<int64_t> keep =
      run_nms(boxes, scores, labels, opt.nms_thr, opt.class_agnostic_nms, bbox_pred.dtype(), bbox_pred.device());
  if (opt.max_det > 0 && int64_t(keep.size()) > opt.max_det) {
    std::vector<double> ks;
    for (int64_t i : keep) ks.push_back(scores[size_t(i)]);
    std::sort(ks.begin(), ks.end());
    double thresh = ks[ks.size() - size_t(opt.max_det)];
    std::vector<int64_t> kept;
    for (int64_t i : keep)
      if (scores[size_t(i)] >= thresh) kept.push_back(i);
    keep = kept;
  }
  return make_detections(keep, boxes, scores, labels, bbox_pred.dtype(), bbox_pred.device());
}

Detections multiclass_nms_select(const Tensor& rois, const Tensor& cls_prob, const Tensor& bbox_pred, int64_t img_h,
                                 int64_t img_w, double score_thr, double nms_thr, int64_t max_det,
                                 const std::vector<double>& reg_weights) {
  check_inputs("multiclass_nms_select", rois, cls_prob, bbox_pred, img_h, img_w, reg_weights);
  autograd::NoGradGuard ng;
  int64_t k = rois.size(0), nc = cls_prob.size(1);
  std::vector<double> dec, prob = cls_prob.to(DType::f64).cpu().to_vector<double>();
  if (k > 0) decode_host(rois, bbox_pred, img_h, img_w, reg_weights, /*clamp_below=*/true, &dec);
  double thr = dtype_threshold(score_thr, cls_prob);
  std::vector<double> boxes, scores;
  std::vector<int64_t> labels, sel;
  for (int64_t c = 1; c < nc; ++c) {
    std::vector<double> cb, cs;
    for (int64_t r = 0; r < k; ++r) {
      double s = prob[size_t(r * nc + c)];
      if (!(s > thr)) continue;
      cb.insert(cb.end(), dec.begin() + 4 * (r * nc + c), dec.begin() + 4 * (r * nc + c) + 4);
      cs.push_back(s);
    }
    for (int64_t i : run_nms(cb, cs, {}, nms_thr, true, bbox_pred.dtype(), bbox_pred.device())) {
      sel.push_back(int64_t(scores.size()));
      boxes.insert(boxes.end(), cb.begin() + 4 * i, cb.begin() + 4 * i + 4);
      scores.push_back(cs[size_t(i)]);
      labels.push_back(c);
    }
  }
  if (max_det > 0 && int64_t(sel.size()) > max_det) sel = topk_indices(scores, max_det);
  return make_detections(sel, boxes, scores, labels, bbox_pred.dtype(), bbox_pred.device());
}

}  // namespace vps::models
