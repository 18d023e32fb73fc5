// Box coding (mmdetection v1 delta2bbox / bbox2delta) and pairwise IoU. Not differentiable: used for
// proposal decoding, detection output and target assignment. Boxes (x1, y1, x2, y2), float32/float64.
#pragma once
#include "layers/kernels/box_math.h"
#include "tensor/tensor.h"

namespace vps {

using BoxCoderParams = box::CoderParams;

// rois (K,4), deltas (K,4*C) -> boxes (K,4*C): per class c, deltas[:, 4c:4c+4] applied to rois with
// means/stds, dw/dh clamped to +-max_ratio, legacy +1 widths when offset=1, clipped when max_h/max_w > 0.
Tensor delta2bbox(const Tensor& rois, const Tensor& deltas, const BoxCoderParams& p = {});
// proposals (K,4), gt (K,4) -> deltas (K,4), normalised by means/stds (inverse of delta2bbox).
Tensor bbox2delta(const Tensor& proposals, const Tensor& gt, const BoxCoderParams& p = {});
// a (N,4), b (M,4) -> IoU (N,M). legacy_plus_one: widths x2-x1+1 (mmdetection v1 bbox_overlaps);
// false: x2-x1 (torchvision box_iou).
Tensor box_iou(const Tensor& a, const Tensor& b, bool legacy_plus_one = true);

// Throws naming `op` unless t is a floating (K,4) tensor (or (K,4)/(K,5) when allow5).
void check_boxes(const char* op, const char* what, const Tensor& t, bool allow5 = false);

}  // namespace vps
