// Row-major GEMM on raw pointers: C = alpha * op(A) * op(B) + beta * C, with op = transpose when
// trans_* is set. On CPU oneDNN's sgemm for float32 (OpenBLAS's with DNNL=0) and OpenBLAS's dgemm, one
// thread per call, C in blocks fixed by the shape that run on OpenMP threads: the same bits on any
// thread count; cuBLAS on CUDA; pointers live on `device`.
// Strided-batched form for bmm. lda/ldb/ldc are row strides (elements).
#pragma once
#include <cstdint>

#include <string>

#include "tensor/device.h"
#include "tensor/dtype.h"

namespace vps::blas {

template <class T>
void gemm(Device device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

template <class T>
void gemm_batched(Device device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                  int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
                  int64_t stride_c, int64_t batch);

// CPU only: op(A), op(B) in bf16, C (float32) = op(A) op(B) + beta * C with the products summed in
// float32 (oneDNN's matmul primitive), split and threaded as gemm_batched: the same bits on any thread
// count. Fails where bf16_gemm_unavailable() says why.
void gemm_batched_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const bf16* a, int64_t lda,
                       int64_t stride_a, const bf16* b, int64_t ldb, int64_t stride_b, float beta, float* c,
                       int64_t ldc, int64_t stride_c, int64_t batch);
// One such product, unsplit, on the calling thread (for callers that tile and thread the work
// themselves: each tile one call whatever the thread count).
void gemm_bf16_on_this_thread(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const bf16* a,
                              int64_t lda, const bf16* b, int64_t ldb, float beta, float* c, int64_t ldc);
// Empty where bf16 products run (oneDNN build, a CPU it has bf16 kernels for); otherwise the reason.
std::string bf16_gemm_unavailable();

}  // namespace vps::blas
