// Training targets of Mask R-CNN (mmdetection v1 anchor_target, bbox_target, mask_target), batch of
// one image. Not differentiable. Outputs are on the device of the anchors / proposals.
#pragma once
#include "models/detection/assigner.h"
#include "models/detection/sampler.h"
#include "tensor/tensor.h"

namespace vps::models {

struct RPNTargetOptions {
  MaxIoUAssignerOptions assigner = MaxIoUAssignerOptions::rpn();
  RandomSamplerOptions sampler = RandomSamplerOptions::rpn();
  double allowed_border = 0;  // anchors must lie inside the image (see anchor_inside_flags)
  double pos_weight = -1;     // <= 0: 1
};

struct RPNTargets {
  Tensor labels;         // (M) float: 1 positive, 0 otherwise (the BCE target)
  Tensor label_weights;  // (M) float: 1 on sampled anchors (pos_weight on positives)
  Tensor bbox_targets;   // (M,4) float: bbox2delta(anchor, gt) on positives (means 0, stds 1)
  Tensor bbox_weights;   // (M,4) float: 1 on positives
  int64_t num_pos = 0, num_neg = 0;
  // mmdet's num_total_samples: max(num_pos,1) + max(num_neg,1), the avg_factor of both RPN losses.
  double avg_factor() const;
};

// anchors (M,4) float (all levels concatenated, in the head's output order), valid_flags (M) u8,
// gt_boxes (G,4); img_h/img_w: unpadded image size. Anchors outside the image (allowed_border) are
// never sampled; they get zero labels and weights.
RPNTargets rpn_targets(const Tensor& anchors, const Tensor& valid_flags, const Tensor& gt_boxes, int64_t img_h,
                       int64_t img_w, const RPNTargetOptions& cfg, Generator& gen);

struct RCNNTargetOptions {
  MaxIoUAssignerOptions assigner = MaxIoUAssignerOptions::rcnn();
  RandomSamplerOptions sampler = RandomSamplerOptions::rcnn();
  double target_stds[4] = {0.1, 0.1, 0.2, 0.2};
  double pos_weight = -1;
};

struct RCNNTargets {
  Tensor rois;           // (K,5) float [0, x1, y1, x2, y2]: sampled positives then negatives
  Tensor labels;         // (K) i64: GT label on positives, 0 (background) on negatives
  Tensor label_weights;  // (K) float: 1 (pos_weight on positives)
  Tensor bbox_targets;   // (K,4) float: bbox2delta with target_stds on positives, 0 elsewhere
  Tensor bbox_weights;   // (K,4) float: 1 on positives
  Tensor pos_assigned_gt_inds;  // (P) i64, for the mask targets
  int64_t num_pos = 0;
};

// proposals (n,4|5) float (a 5th score column is ignored), gt_boxes (G,4), gt_labels (G) i64 >= 1.
// The bbox targets are per RoI for its own class: the loss picks columns 4*label.. of the (K,4nc) head.
RCNNTargets rcnn_targets(const Tensor& proposals, const Tensor& gt_boxes, const Tensor& gt_labels,
                         const RCNNTargetOptions& cfg, Generator& gen);

// (h,w) u8 -> (out_h,out_w) u8 exactly as OpenCV cv::resize INTER_LINEAR on 8-bit images: half-pixel
// centres, clamped borders, 11-bit fixed-point weights (cvRound of w * 2048), the horizontal pass in
// int, the vertical pass ((b0*(S0>>4))>>16) + ((b1*(S1>>4))>>16) + 2) >> 2 (mmcv.imresize 'bilinear').
Tensor resize_bilinear_u8(const Tensor& src, int64_t out_h, int64_t out_w);

// pos_proposals (P,4) float, pos_assigned_gt_inds (P) i64, gt_masks (G,H,W) u8 -> (P,S,S) float 0/1 on
// the proposals' device. Per RoI: box truncated to int, w = max(x2-x1+1, 1), h likewise, crop
// gt_mask[y1:y1+h, x1:x1+w] (clipped to the mask as numpy slicing does), resize_bilinear_u8 to SxS.
Tensor mask_targets(const Tensor& pos_proposals, const Tensor& pos_assigned_gt_inds, const Tensor& gt_masks,
                    int64_t mask_size = 28);

}  // namespace vps::models
