// Transposed 2-D convolution (PyTorch semantics): the input-gradient of conv2d, sharing its passes.
#pragma once
#include "layers/conv2d.h"

namespace vps {

// x: (N, Cin, H, W), w: (Cin, Cout/groups, kh, kw), bias: (Cout) or undefined; float32/float64.
// Returns (N, Cout, Ho, Wo), Ho = (H-1)*s - 2p + d*(kh-1) + output_padding + 1; output_padding < stride.
// Backward saves x and w: grad x = conv2d(gy, w), grad w from the conv2d weight pass with roles swapped.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), Pair stride = {1, 1},
                        Pair padding = {0, 0}, Pair output_padding = {0, 0}, int64_t groups = 1,
                        Pair dilation = {1, 1}, ConvAlgo algo = ConvAlgo::automatic);

}  // namespace vps
