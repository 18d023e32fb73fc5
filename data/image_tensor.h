// Images as the normalised network input VPSNet uses (RGB, mean (123.675, 116.28, 103.53), std (58.395,
// 57.12, 57.375); mmdetection's img_norm_cfg with to_rgb, sample/sample.h), and the input of a backbone
// read from a file (`vps infer-features`). Padding and the inverse normalisation: sample/sample.h.
#pragma once
#include <cstdint>
#include <string>

#include "data/image_io.h"
#include "sample/sample.h"
#include "tensor/tensor.h"

namespace vps::data {

// (1, 3, H, W) float64; gray images are repeated over the channels, an alpha channel is ignored.
// `what` names the image in errors.
Tensor normalized_image(const Image& img, const std::string& what);

// Input for a backbone: an image file (PNG/JPEG, RGB, normalised as above) or a .npy array taken as is
// ((C, H, W) or (N, C, H, W), any float dtype). The result is (N, C, H, W) of `dtype`, zero-padded at
// the bottom/right to a multiple of `size_divisor` (mmdetection pads the normalised image the same
// way; 1 = no padding).
Tensor load_model_input(const std::string& path, DType dtype = DType::f32, int64_t size_divisor = 32);

}  // namespace vps::data
