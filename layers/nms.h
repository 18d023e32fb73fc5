// Non-maximum suppression. Not differentiable. Returns kept indices (i64, on the boxes' device) into
// the input, sorted by descending score (ties: lower index first). A box is suppressed when its IoU
// with a kept, higher-scored box is > iou_thr. legacy_plus_one: widths x2-x1+1 (mmdetection v1,
// py-faster-rcnn); false: torchvision.ops.nms.
#pragma once
#include "tensor/tensor.h"

namespace vps {

// boxes (N,4), scores (N,) same float dtype/device. CPU: greedy loop; CUDA: 64-wide bitmask kernel
// with the mask reduced on the host. Both give identical keep lists (same IoU body).
Tensor nms(const Tensor& boxes, const Tensor& scores, double iou_thr, bool legacy_plus_one = false);
// dets (N,5) = (x1, y1, x2, y2, score), the mmdetection v1 layout.
Tensor nms(const Tensor& dets, double iou_thr, bool legacy_plus_one = false);
// Class-aware NMS: boxes of different idxs (N,) i64 never suppress each other (the class test sits in
// the IoU body, so there is no coordinate offset and no precision loss).
Tensor batched_nms(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_thr,
                   bool legacy_plus_one = false);
// The bitmask algorithm on any device (the CUDA path of nms; exposed so the CPU tests run it too).
// idxs may be undefined (class-agnostic).
Tensor nms_bitmask(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_thr,
                   bool legacy_plus_one = false);

}  // namespace vps
