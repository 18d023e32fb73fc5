// Deformable convolution v1 (mmdetection v1's DeformConv, as VPSNet's semantic head uses it; docs/dcn.md):
// the op and the modules DeformConv2d and DeformConvWithOffset.
#pragma once
#include <array>
#include <cstdint>

#include "layers/conv_modules.h"
#include "layers/module.h"
#include "tensor/tensor.h"

namespace vps {

// The offset gradient at a sample point outside -1 < p < size: mmdetection v1 gives 0 for both
// coordinates of the tap; torchvision.ops.deform_conv2d keeps the per-corner terms, which differ from 0
// only at exactly p == -1 (integer offsets with padding, e.g. all-zero offsets). Forward, input and
// weight gradients are the same under both.
enum class DeformOffsetGrad { mmdet, torchvision };

struct DeformConvParams {
  std::array<int64_t, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1, deformable_groups = 1;
  DeformOffsetGrad offset_grad = DeformOffsetGrad::mmdet;
  // Column buffer of one tile of output rows, in KiB (0: 32 MiB on CPU, 256 MiB on CUDA). Untiled, a
  // 256-channel 3x3 layer at 256x512 would need 1.2 GB of columns.
  int64_t column_budget_kb = 0;
  // bf16: the products' inputs rounded to bf16, summed in float32 (CPU float32 inference only).
  MatmulPrecision precision = MatmulPrecision::f32;
};

// x (N, C, H, W), offset (N, 2 * deformable_groups * kh * kw, Ho, Wo) laid out (dy, dx) per tap,
// weight (O, C / groups, kh, kw); no bias (mmdet's DeformConv has none). float32/float64, one device.
// Returns (N, O, Ho, Wo) with Ho = (H + 2p - d(kh-1) - 1)/s + 1. Backward (x, offset, weight) saves
// the three inputs and recomputes the columns.
Tensor deform_conv2d(const Tensor& x, const Tensor& offset, const Tensor& weight, const DeformConvParams& p = {});

}  // namespace vps

namespace vps::nn {

// weight (out, in/groups, kh, kw), initialised U(+-1/sqrt(in/groups * kh * kw)) as mmdet's DeformConv.
// forward(x, offset): deform_conv2d. ConvOptions::bias must be false.
class DeformConv2d : public Module {
 public:
  DeformConv2d(const ConvOptions& o, int64_t deformable_groups, Generator& gen);
  Tensor forward(const Tensor& x, const Tensor& offset) const;
  std::string type_name() const override { return "DeformConv2d"; }
  ConvOptions options;
  DeformConvParams params;
  Tensor weight;

 protected:
  void on_matmul_precision(MatmulPrecision p) override { params.precision = p; }
};

// VPSNet's DeformConvWithOffset: conv_offset, a 3x3 / pad 1 / stride 1 Conv2d with bias giving the
// 2 * dg * kh * kw offsets (zero-initialised, as the wrapper's constructor does), then the DCN `conv`.
// Keys: conv_offset.weight, conv_offset.bias, conv.weight. forward(x) = conv(x, conv_offset(x)).
class DeformConvWithOffset : public Module {
 public:
  DeformConvWithOffset(const ConvOptions& o, int64_t deformable_groups, Generator& gen);
  Tensor forward(const Tensor& x) const;
  std::string type_name() const override { return "DeformConvWithOffset"; }
  std::shared_ptr<Conv2d> conv_offset;
  std::shared_ptr<DeformConv2d> conv;
};

}  // namespace vps::nn
