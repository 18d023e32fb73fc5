// Conversions of the bf16 inference path (MatmulPrecision::bf16): float32 tensors rounded to bf16
// (nearest even) where they enter a product, and back for tests and error measurements. CPU only.
#pragma once
#include "tensor/tensor.h"

namespace vps {

// The same on OpenMP threads when n is large (each value on its own: any thread
// count gives the same bits).
void to_bf16(const float* src, bf16* dst, int64_t n);
// A CPU float32 tensor as a contiguous bf16 tensor of the same shape; errors name the dtype / device.
Tensor to_bf16(const Tensor& x);
// A contiguous bf16 CPU tensor as float32 (exact).
Tensor bf16_to_f32(const Tensor& x);

}  // namespace vps
