// Multi-level RoI feature extraction (mmdetection v1 SingleRoIExtractor).
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace vps::models {

// feats P2..P5 (N,C,Hi,Wi; more levels may follow and are not used), rois (K,5) [batch_idx,x1,y1,x2,y2] same dtype/device -> (K,C,out,out) in rois
// order: map_roi_levels(finest_scale 56) then roi_align (mmdet v1 mode, sample_num 2, scale 1/stride_i)
// per level. Differentiable w.r.t. the feats (roi_align per level, cat, index_select back to rois order);
// the rois are constants (detached: no gradient w.r.t. boxes).
Tensor extract_roi_features(const std::vector<Tensor>& feats, const Tensor& rois, int64_t out_size,
                            const std::vector<int64_t>& strides = {4, 8, 16, 32});

// (K,5) RoIs [0, x1, y1, x2, y2] of one image's boxes (K,4|5), for extract_roi_features.
Tensor rois_from_boxes(const Tensor& boxes);

// Checks that a head's input is (n, channels, size, size); the message names `who`.
void check_roi_feats(const char* who, const Tensor& roi_feats, int64_t channels, int64_t size);

}  // namespace vps::models
