// Row-major GEMM on raw pointers: C = alpha * op(A) * op(B) + beta * C, with op = transpose when
// trans_* is set. OpenBLAS (sgemm/dgemm, one thread per call, C in blocks fixed by the shape that run on
// OpenMP threads: the same bits on any thread count) on CPU, cuBLAS on CUDA; pointers live on `device`.
// Strided-batched form for bmm. lda/ldb/ldc are row strides (elements).
#pragma once
#include <cstdint>

#include "tensor/device.h"

namespace vps::blas {

template <class T>
void gemm(Device device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

template <class T>
void gemm_batched(Device device, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                  int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc,
                  int64_t stride_c, int64_t batch);

}  // namespace vps::blas
