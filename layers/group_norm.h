// Group normalisation (Wu & He 2018) over (N, C, *) inputs.
#pragma once
#include "tensor/tensor.h"

namespace vps {

// x (N, C, *) f32/f64, C divisible by `groups`. Statistics (mean, biased variance) per (n, group)
// over C/groups channels and all spatial positions; then per-channel affine weight/bias (C, each may
// be undefined). Backward to x, weight and bias; saves x, weight, mean and invstd (N*groups).
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace vps
