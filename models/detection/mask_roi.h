// Test-time box selection of the RoI head: VPSNet's MaskROI (UPSNet mask_roi.py) and mmdet v1's
// multiclass_nms as an option. Not differentiable (runs under no-grad).
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace vps::models {

// boxes (n,4) and scores (n) in the dtype of bbox_pred, labels (n) int64 in 1..nc-1, on the inputs' device.
// Empty (n = 0) when nothing survives: VPSNet's dummy detection (score 1, box 0, label 0) is left to the caller.
struct Detections {
  Tensor boxes, scores, labels;
  int64_t size() const { return scores.defined() ? scores.size(0) : 0; }
};

struct MaskROIOptions {
  double score_thr = 0.6, nms_thr = 0.5;
  int64_t max_det = 100;
  std::vector<double> reg_weights{10, 10, 5, 5};
  bool class_agnostic_nms = true;  // false: classes never suppress each other
};

// rois (K,5) [batch,x1,y1,x2,y2], cls_prob = softmax(cls) (K,nc), bbox_pred (K,4nc). UPSNet bbox_transform
// (+1 widths, deltas / reg_weights, dw/dh clamped from above only at log(1000/16)), clip to
// [0,W-1]x[0,H-1]; candidates (roi-major, then class 1..nc-1) with score > score_thr; NMS (+1 areas,
// suppress IoU > nms_thr; equal scores: lower candidate index first); when more than max_det survive,
// keep scores >= the max_det-th largest (ties keep more). Output in NMS-keep order (descending score).
Detections mask_roi_select(const Tensor& rois, const Tensor& cls_prob, const Tensor& bbox_pred, int64_t img_h,
                           int64_t img_w, const MaskROIOptions& opt = {});

// mmdet v1 get_det_bboxes + multiclass_nms: delta2bbox (stds 1/reg_weights, clamp both ways, clip); per class
// 1..nc-1 in order: scores > score_thr, NMS (+1) at nms_thr; concatenated class-major; when more than
// max_det, the max_det best by score (stable descending sort). Labels 1..nc-1 (mmdet's label + 1).
Detections multiclass_nms_select(const Tensor& rois, const Tensor& cls_prob, const Tensor& bbox_pred, int64_t img_h,
                                 int64_t img_w, double score_thr = 0.05, double nms_thr = 0.5, int64_t max_det = 100,
                                 const std::vector<double>& reg_weights = {10, 10, 5, 5});

}  // namespace vps::models
