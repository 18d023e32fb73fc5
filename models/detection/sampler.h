// Random positive/negative sampling (mmdetection v1 RandomSampler + BaseSampler.sample). Not
// differentiable; indices and boxes on the host (CPU tensors).
#pragma once
#include "models/detection/assigner.h"
#include "tensor/tensor.h"

namespace vps::models {

struct RandomSamplerOptions {
  int64_t num = 512;
  double pos_fraction = 0.25;
  int64_t neg_pos_ub = -1;   // >= 0: at most neg_pos_ub * max(num_pos, 1) negatives
  bool add_gt_as_proposals = true;
  static RandomSamplerOptions rpn() { return {256, 0.5, -1, false}; }
  static RandomSamplerOptions rcnn() { return {512, 0.25, -1, true}; }
};

struct SamplingResult {
  Tensor pos_inds, neg_inds;    // (P), (Q) i64, ascending, into the (GT-prepended) box list
  Tensor pos_bboxes, neg_bboxes;  // (P,4), (Q,4) of the boxes' dtype
  Tensor pos_gt_bboxes;         // (P,4): the GT box of each positive
  Tensor pos_assigned_gt_inds;  // (P) i64 in [0,G)
  Tensor pos_gt_labels;         // (P) i64, undefined when the assignment has no labels
  Tensor pos_is_gt;             // (P) u8: 1 for a GT added as proposal
  int64_t num_pos() const { return pos_inds.numel(); }
  int64_t num_neg() const { return neg_inds.numel(); }
  Tensor bboxes() const;        // (P+Q,4): positives then negatives (the RoI order of the RCNN targets)
};

// Picks `k` of `candidates` uniformly without replacement (a random permutation's first k, from
// `gen`), returned ascending; all of them when k >= size.
std::vector<int64_t> random_choice(const std::vector<int64_t>& candidates, int64_t k, Generator& gen);

// assign: from assign_max_iou on `boxes` (n,4|5); gt_boxes (G,4), gt_labels (G) i64 or undefined.
// With add_gt_as_proposals the GTs are prepended to the boxes (and `assign` is updated in place).
// Positives: up to int(num * pos_fraction) of gt_inds > 0; negatives: num - #pos of gt_inds == 0.
SamplingResult random_sample(AssignResult& assign, const Tensor& boxes, const Tensor& gt_boxes,
                             const Tensor& gt_labels, const RandomSamplerOptions& opt, Generator& gen);

}  // namespace vps::models
