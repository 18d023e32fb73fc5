#include "infer/tracker.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "layers/box_coder.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::infer {

void OnlineTracker::reset() {
  feats_.clear();
  boxes_.clear();
  labels_.clear();
}

void OnlineTracker::append(const Tensor& feat, const Tensor& box, int64_t label) {
  feats_.push_back(feat.clone());  // own copies: a view would keep the whole frame's tensors alive
  boxes_.push_back(box.clone());
  labels_.push_back(label);
}

std::vector<int64_t> OnlineTracker::step(const Tensor& roi_feats, const Tensor& bboxes, const Tensor& labels,
                                         const Tensor& cls_prob, bool first_frame) {
  VPS_CHECK(roi_feats.dim() == 4 && bboxes.dim() == 2 && bboxes.size(1) >= 4 && labels.dim() == 1 &&
                cls_prob.dim() == 1 && bboxes.size(0) == roi_feats.size(0) && labels.size(0) == roi_feats.size(0) &&
                cls_prob.size(0) == roi_feats.size(0),
            "OnlineTracker: roi_feats ", shape_str(roi_feats.shape()), ", bboxes ", shape_str(bboxes.shape()),
            ", labels ", shape_str(labels.shape()), " and cls_prob ", shape_str(cls_prob.shape()),
            " must describe the same n detections");
  autograd::NoGradGuard ng;
  const int64_t n = roi_feats.size(0);
  std::vector<int64_t> lab = labels.to(DType::i64).to_vector<int64_t>();
  if (first_frame) reset();
  std::vector<int64_t> ids(size_t(n), -1);
  if (labels_.empty()) {  // first frame of the video, or nothing seen yet
    for (int64_t i = 0; i < n; ++i) {
      ids[size_t(i)] = i;
      append(roi_feats.select(0, i), bboxes.select(0, i).slice(0, 0, 4), lab[size_t(i)]);
    }
    return ids;
  }
  if (n == 0) return ids;
  const int64_t m = num_objects();
  const std::vector<double>& c = head_.options().match_coeff;
  Tensor logprob = log_softmax(head_.match_score(roi_feats, stack(feats_, 0)), 1);  // (n, m+1)
  std::vector<double> lp = logprob.to(DType::f64).to_vector<double>();
  std::vector<double> iou =
      box_iou(bboxes.slice(1, 0, 4).to(DType::f32), stack(boxes_, 0).to(DType::f32), true).to(DType::f64).to_vector<double>();
  std::vector<double> prob = cls_prob.to(DType::f64).to_vector<double>();
  // The comprehensive score in the scores' dtype (float32 for a float32 model), as PyTorch sums it.
  const bool f32 = logprob.dtype() == DType::f32;
  auto in_dtype = [&](double v) { return f32 ? double(float(v)) : v; };
  std::vector<int64_t> match(static_cast<size_t>(n));
  std::vector<double> likelihood(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double lc = in_dtype(c[0] * in_dtype(std::log(in_dtype(prob[size_t(i)]))));
    int64_t best = 0;
    double best_v = 0;
    for (int64_t j = 0; j <= m; ++j) {
      double io = j == 0 ? 0.0 : iou[size_t(i * m + j - 1)];
      double same = j == 0 ? 1.0 : double(labels_[size_t(j - 1)] == lab[size_t(i)]);
      double v = in_dtype(in_dtype(in_dtype(lp[size_t(i * (m + 1) + j)] + lc) + in_dtype(c[1] * io)) + c[2] * same);
      if (j == 0 || v > best_v) best = j, best_v = v;  // the first maximum, as torch.max
    }
    match[size_t(i)] = best;
    likelihood[size_t(i)] = best_v;
  }
  std::vector<double> best_score(size_t(m), -100.0);
  std::vector<int64_t> best_det(size_t(m), -1);
  for (int64_t i = 0; i < n; ++i) {
    if (match[size_t(i)] == 0) {
      ids[size_t(i)] = num_objects();
      append(roi_feats.select(0, i), bboxes.select(0, i).slice(0, 0, 4), lab[size_t(i)]);
      continue;
    }
    int64_t obj = match[size_t(i)] - 1;
    if (likelihood[size_t(i)] > best_score[size_t(obj)]) {
      if (best_det[size_t(obj)] >= 0) ids[size_t(best_det[size_t(obj)])] = -1;
      ids[size_t(i)] = obj;
      best_score[size_t(obj)] = likelihood[size_t(i)];
      best_det[size_t(obj)] = i;
      feats_[size_t(obj)] = roi_feats.select(0, i).clone();
      boxes_[size_t(obj)] = bboxes.select(0, i).slice(0, 0, 4).clone();
    }
  }
  const double dup_iou = head_.options().duplicate_iou;
  if (dup_iou >= 0) {
    // The losers of object j that a chain of same-label boxes overlapping by IoU > dup_iou links to
    // its winner are pieces of that object: they keep its id.
    std::vector<double> pair_iou =
        box_iou(bboxes.slice(1, 0, 4).to(DType::f32), bboxes.slice(1, 0, 4).to(DType::f32), true).to(DType::f64).to_vector<double>();
    for (bool grew = true; grew;) {
      grew = false;
      for (int64_t i = 0; i < n; ++i) {
        if (ids[size_t(i)] >= 0 || match[size_t(i)] == 0) continue;
        int64_t obj = match[size_t(i)] - 1;
        for (int64_t k = 0; k < n && ids[size_t(i)] < 0; ++k)
          if (ids[size_t(k)] == obj && lab[size_t(k)] == lab[size_t(i)] && pair_iou[size_t(i * n + k)] > dup_iou)
            ids[size_t(i)] = obj, grew = true;
      }
    }
  }
  for (int64_t i = 0; i < n; ++i)
    if (ids[size_t(i)] < 0) {
      ids[size_t(i)] = num_objects();
      append(roi_feats.select(0, i), bboxes.select(0, i).slice(0, 0, 4), lab[size_t(i)]);
    }
  return ids;
}

}  // namespace vps::infer
