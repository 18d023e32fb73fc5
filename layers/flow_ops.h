// FlowNet2's three custom ops (NVIDIA flownet2-pytorch, as vendored in mcahny/vps;
// networks/{correlation,resample2d,channelnorm}_package; docs/flow-ops.md). One kernel body for CPU and
// CUDA each, float32/float64, forward and backward for every input.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace vps {

// FlowNetC's correlation. Defaults are FlowNet2's call: pad 20, kernel 1, max displacement 20,
// stride1 1, stride2 2, i.e. (2 * (max_displacement / stride2) + 1)^2 = 441 output channels.
// out[n, (tj+R)*D + (ti+R), y, x] = (1 / (kernel^2 * C)) * sum_c f1[n,c,y,x] * f2[n,c,y+s2*tj,x+s2*ti]
// with f2 = 0 outside the image, R = max_displacement / stride2, D = 2R + 1 (vertical-major).
struct CorrelationOptions {
  int64_t pad_size = 20, kernel_size = 1, max_displacement = 20, stride1 = 1, stride2 = 2;
};
// f1, f2 (N, C, H, W), same shape, dtype and device. Returns (N, D*D, Ho, Wo).
Tensor correlation(const Tensor& f1, const Tensor& f2, const CorrelationOptions& o = {});

// Bilinear backward warp (Resample2d, kernel_size 1): out[b,c,y,x] = img sampled at
// (x + flow[b,0,y,x], y + flow[b,1,y,x]) in pixels, corner indices clamped to the image
// (replicate border, no zero padding). img (B, C, H, W), flow (B, 2, Hf, Wf) -> (B, C, Hf, Wf).
// The flow gradient holds the clamped corners fixed (0 outside [0, W-1] x [0, H-1]), as the original.
Tensor resample2d(const Tensor& img, const Tensor& flow);

// L2 norm over channels: (B, C, H, W) -> (B, 1, H, W). Backward: g * x / (norm + 1e-9) (the
// original's epsilon, backward only).
Tensor channel_norm(const Tensor& x);

}  // namespace vps
