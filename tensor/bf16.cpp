#include "tensor/bf16.h"

#include "tensor/hd.h"

namespace vps {

// bf16(float) over an array; target_clones builds it for AVX-512, AVX2 and the baseline and picks one
// by the CPU at load time (the same bits from each: integer operations only). A loop of the scalar
// conversion compiled for the baseline alone was 11% of a bf16 frame.
VPS_AVX512_CLONE void round_to_bf16(const float* __restrict__ src, bf16* __restrict__ dst, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] = bf16(src[j]);
}

void to_bf16(const float* src, bf16* dst, int64_t n) {
  static_assert(sizeof(bf16) == 2, "bf16 is its 16 bits");
  constexpr int64_t kBlock = 16384;  // values per parallel item
  int64_t blocks = (n + kBlock - 1) / kBlock;
  detail::cpu_parallel_for(
      blocks,
      [&](int64_t i) {
        int64_t b = i * kBlock;
        round_to_bf16(src + b, dst + b, std::min(kBlock, n - b));
      },
      kBlock);
}

Tensor to_bf16(const Tensor& x) {
  VPS_CHECK(x.defined(), "to_bf16: undefined tensor");
  VPS_CHECK(x.dtype() == DType::f32 && x.device().is_cpu(), "to_bf16: expected a float32 CPU tensor, got ",
            x.str());
  Tensor xc = x.contiguous(), y = Tensor::empty(x.shape(), DType::bf16, kCPU);
  to_bf16(xc.data<float>(), y.data<bf16>(), xc.numel());
  return y;
}

Tensor bf16_to_f32(const Tensor& x) {
  VPS_CHECK(x.defined() && x.dtype() == DType::bf16 && x.device().is_cpu() && x.is_contiguous(),
            "bf16_to_f32: expected a contiguous bfloat16 CPU tensor, got ",
            x.defined() ? x.str() : std::string("undefined"));
  const Tensor& xc = x;
  Tensor y = Tensor::empty(x.shape(), DType::f32, kCPU);
  const bf16* s = xc.data<bf16>();
  float* d = y.data<float>();
  for (int64_t i = 0; i < xc.numel(); ++i) d[i] = bf16_to_float(s[i].bits);
  return y;
}

}  // namespace vps
