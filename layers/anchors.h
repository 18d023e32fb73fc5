// Anchor generation as in mmdetection v1 (AnchorGenerator, AnchorHead.get_anchors). Not differentiable.
// All anchors are computed in float32 on the host (the rounding matches torch float32), then moved.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace vps {

struct AnchorSpec {
  std::vector<double> scales = {8};
  std::vector<double> ratios = {0.5, 1.0, 2.0};
  std::vector<int64_t> strides = {4, 8, 16, 32, 64};  // base size = stride
  int64_t num_base() const { return int64_t(scales.size() * ratios.size()); }
};

// (A,4) float32: h_ratio = sqrt(r), w_ratio = 1/h_ratio, ws = base*w_ratio*scale, hs likewise, centre
// (base-1)/2, corners ctr -+ 0.5*(size-1), rounded half-to-even. Ratio-major: a = ratio_i*S + scale_j.
Tensor base_anchors(double base_size, const std::vector<double>& scales, const std::vector<double>& ratios);
// (H*W*A, 4) float32 on `device`: base (A,4) shifted by (x*stride, y*stride), row (y*W + x)*A + a.
Tensor grid_anchors(const Tensor& base, int64_t feat_h, int64_t feat_w, int64_t stride, Device device = kCPU);
// (H*W*A,) u8: 1 where x < valid_w and y < valid_h (the unpadded part of the feature map).
Tensor anchor_valid_flags(int64_t feat_h, int64_t feat_w, int64_t valid_h, int64_t valid_w, int64_t num_base,
                          Device device = kCPU);
// Valid size of a level: min(ceil(pad_h / stride), feat_h) and likewise for w (AnchorHead.get_anchors).
void anchor_valid_size(int64_t pad_h, int64_t pad_w, int64_t stride, int64_t feat_h, int64_t feat_w,
                       int64_t* valid_h, int64_t* valid_w);
// anchors (M,4), flags (M,) u8 -> (M,) u8: flags & anchor inside [-b, W+b) x [-b, H+b) of the image
// (anchor_inside_flags with allowed_border b >= 0; b < 0 returns the flags unchanged).
Tensor anchor_inside_flags(const Tensor& anchors, const Tensor& flags, int64_t img_h, int64_t img_w,
                           double allowed_border = 0);

// Per level: grid anchors of every stride of `spec` for the given feature sizes ((h, w) per level).
std::vector<Tensor> multi_level_anchors(const AnchorSpec& spec, const std::vector<std::pair<int64_t, int64_t>>& sizes,
                                        Device device = kCPU);

}  // namespace vps
