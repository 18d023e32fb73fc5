// 2-D pooling over (N, C, H, W) inputs (f32/f64), with PyTorch's output-size rules.
#pragma once
#include <array>

#include "tensor/tensor.h"

namespace vps {

using Pair = std::array<int64_t, 2>;  // (h, w)

// Output length along one axis, PyTorch's rule: floor (or ceil) of (in + 2p - d(k-1) - 1) / s, + 1;
// with ceil_mode the last window must start inside the input or the left padding.
int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode);

// Max over each window (padding never wins). stride {0, 0} means stride = kernel. padding <= k/2.
// Backward routes each output gradient to the first maximum of its window; saves the argmax
// indices (i64, flat within the H*W plane).
Tensor max_pool2d(const Tensor& x, Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0}, Pair dilation = {1, 1},
                  bool ceil_mode = false);
// Same, also returning the argmax indices (N, C, Ho, Wo) i64 (flat index into each H*W plane).
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Pair kernel, Pair stride = {0, 0},
                                                  Pair padding = {0, 0}, Pair dilation = {1, 1}, bool ceil_mode = false);

// Mean over each window. count_include_pad: the divisor counts padded positions (but not the part of a
// ceil_mode window beyond the right padding), as PyTorch. Backward spreads dy / divisor; saves nothing.
Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0}, bool ceil_mode = false,
                  bool count_include_pad = true);

// Output cell (i, j) averages rows floor(i*H/oh) .. ceil((i+1)*H/oh) - 1 (and likewise columns).
Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size);

}  // namespace vps
