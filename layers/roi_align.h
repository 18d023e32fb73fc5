// RoIAlign (differentiable w.r.t. the features only) and FPN level assignment.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace vps {

struct RoIAlignOptions {
  int64_t out_h = 7, out_w = 7;
  double spatial_scale = 1.0;
  int sampling_ratio = 2;  // samples per bin side; <= 0: adaptive ceil(roi_size / out_size)
  // kMMDetV1: roi end = (x2 + 1) * scale, size = max(end - start, 0) (mmdetection v1 roi_align, sample_num).
  // kTorchvision: start/end = x * scale - (aligned ? 0.5 : 0), size floored at 1 unless aligned.
  enum Mode { kMMDetV1, kTorchvision } mode = kMMDetV1;
  bool aligned = false;  // kTorchvision only
};

// features (N,C,H,W) float32/float64, rois (K,5) = (batch_index, x1, y1, x2, y2) in image coordinates,
// same dtype and device -> (K, C, out_h, out_w): each bin the mean of sampling_ratio^2 bilinear samples
// (0 outside [-1, H] x [-1, W]). Backward: gradient for the features only (scatter with atomic_add);
// saves the rois. rois must not require grad.
Tensor roi_align(const Tensor& features, const Tensor& rois, const RoIAlignOptions& opt = {});

// rois (K,5) or (K,4) -> level index (K,) i64: floor(log2(sqrt((x2-x1+1)*(y2-y1+1)) / finest_scale + 1e-6))
// clamped to [0, num_levels-1] (mmdetection v1 SingleRoIExtractor.map_roi_levels).
Tensor map_roi_levels(const Tensor& rois, int64_t num_levels = 4, double finest_scale = 56);

}  // namespace vps
