// Batch normalisation over (N, C, *) inputs, and folding a BN into the preceding convolution.
#pragma once
#include <utility>

#include "tensor/tensor.h"

namespace vps {

// y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c for x (N, C, *) of f32/f64.
// weight/bias (C) may be undefined (no affine). running_mean/var (C), same dtype, may be undefined
// only when training. training: batch statistics (biased variance); the running buffers, when given,
// are updated in place (no autograd) with momentum and the unbiased variance. Not training: the
// running statistics are used. Backward to x, weight and bias; saves x, weight, mean and invstd.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// Folds an inference-mode BN into the convolution before it: conv_w (Co, ...) and conv_b (Co, may be
// undefined) -> (w', b') with w' = w * s_c, b' = (b - mean) * s_c + beta, s_c = gamma / sqrt(var + eps).
// No autograd (inference helper); the returned tensors are new and contiguous.
std::pair<Tensor, Tensor> fold_batch_norm(const Tensor& conv_w, const Tensor& conv_b, const Tensor& bn_weight,
                                          const Tensor& bn_bias, const Tensor& running_mean,
                                          const Tensor& running_var, double eps = 1e-5);

}  // namespace vps
