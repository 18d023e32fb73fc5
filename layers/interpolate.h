// Resizing (N, C, H, W) inputs by nearest neighbour or bilinear interpolation, as PyTorch's
// F.interpolate (legacy 'nearest', 'bilinear' with align_corners true/false).
#pragma once
#include <array>

#include "layers/pooling.h"  // Pair
#include "tensor/tensor.h"

namespace vps {

enum class InterpMode { nearest, bilinear };

// To an explicit output size (Ho, Wo). nearest: src = min(floor(dst * in/out), in-1).
// bilinear: align_corners maps corner pixel centres onto each other (scale (in-1)/(out-1)); otherwise
// src = max((dst + 0.5) * in/out - 0.5, 0). align_corners must be false for nearest.
// Backward scatters each output gradient to its source pixels (atomic_add); saves nothing.
Tensor interpolate(const Tensor& x, Pair size, InterpMode mode, bool align_corners = false);

// By scale factor: output = floor(in * scale), and the coordinate map uses 1/scale (PyTorch's
// behaviour with recompute_scale_factor unset), except bilinear with align_corners.
Tensor interpolate_scale(const Tensor& x, std::array<double, 2> scale, InterpMode mode, bool align_corners = false);

}  // namespace vps
