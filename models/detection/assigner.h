// Max-IoU box assignment (mmdetection v1 MaxIoUAssigner.assign_wrt_overlaps). Not differentiable;
// the result lives on the host (CPU tensors), whatever the device of the boxes.
#pragma once
#include "tensor/tensor.h"

namespace vps::models {

struct MaxIoUAssignerOptions {
  double pos_iou_thr = 0.5;
  double neg_iou_thr = 0.5;  // negatives: 0 <= max IoU < neg_iou_thr
  double min_pos_iou = 0.5;  // a GT's best boxes become positive when that IoU >= min_pos_iou
  bool gt_max_assign_all = true;  // every box tying at a GT's max IoU (false: the first only)
  static MaxIoUAssignerOptions rpn() { return {0.7, 0.3, 0.3, true}; }
  static MaxIoUAssignerOptions rcnn() { return {0.5, 0.5, 0.5, true}; }
};

struct AssignResult {
  int64_t num_gts = 0;
  Tensor gt_inds;       // (n) i64: -1 ignore, 0 negative, k > 0 -> GT k-1
  Tensor max_overlaps;  // (n) f32: max IoU over the GTs (0 when there are none)
  Tensor labels;        // (n) i64: label of the assigned GT, 0 elsewhere; undefined without gt_labels
  // Prepends the GTs themselves as boxes assigned to themselves (IoU 1), as add_gt_(gt_labels).
  void add_gt(const Tensor& gt_labels);
};

// boxes (n,4|5) and gt_boxes (G,4) float on one device, gt_labels (G) i64 or undefined. IoU with the
// legacy +1 widths. Steps: all -1; 0 where 0 <= max IoU < neg; argmax GT + 1 where max IoU >= pos;
// then for each GT i in order with max IoU >= min_pos_iou, its best box(es) -> i + 1. Argmax ties take
// the first GT. G = 0: every box negative.
AssignResult assign_max_iou(const Tensor& boxes, const Tensor& gt_boxes, const Tensor& gt_labels,
                            const MaxIoUAssignerOptions& opt);

}  // namespace vps::models
