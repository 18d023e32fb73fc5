// An 8-bit image as the normalised network input VPSNet uses (RGB, mean (123.675, 116.28, 103.53),
// std (58.395, 57.12, 57.375); mmdetection's img_norm_cfg with to_rgb), and zero padding to a multiple.
#pragma once
#include <cstdint>
#include <string>

#include "data/image_io.h"
#include "tensor/tensor.h"

namespace vps::data {

// mmdetection's img_norm_cfg (RGB order).
constexpr double kImageMean[3] = {123.675, 116.28, 103.53}, kImageStd[3] = {58.395, 57.12, 57.375};

// (1, 3, H, W) float64; gray images are repeated over the channels, an alpha channel is ignored.
// `what` names the image in errors.
Tensor normalized_image(const Image& img, const std::string& what);
// A normalised image (N, 3, H, W) back in [0, 1] (x * std + mean) / 255, its dtype and device.
Tensor unit_range_image(const Tensor& normalized);
// x (..., H, W) padded at the bottom/right with `value` to multiples of `divisor`.
Tensor pad_to_multiple(const Tensor& x, int64_t divisor, double value = 0);

}  // namespace vps::data
