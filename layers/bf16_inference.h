// The bf16 inference path (MatmulPrecision::bf16): where a layer's product may take bf16 inputs, and
// the linear layer's bf16 form. Activations stay float32 between layers; each product rounds its two
// inputs to bf16 and sums in float32 (oneDNN: AMX or AVX512-BF16 kernels), so every other op (norms,
// softmax, RoIAlign, box decoding, the panoptic head) stays float32. docs/conv.md has the measurements.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace vps {

// Errors, naming `op`, unless bf16 products can run here: CPU float32 inputs, no gradient wanted (the
// path is for inference), and a build and CPU that have them (tensor/blas.h bf16_gemm_unavailable).
void check_bf16_inference(const char* op, const std::vector<Tensor>& inputs);

// x (..., in) W^T (out, in) + b with bf16 products; shapes as ops linear.
Tensor linear_bf16(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace vps
