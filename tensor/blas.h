// Row-major GEMM on raw pointers: C = alpha * op(A) * op(B) + beta * C, with op = transpose when
// trans_* is set. OpenBLAS (sgemm/dgemm) on CPU, cuBLAS on CUDA; pointers live on `device`.
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

// Threads OpenBLAS may use (benchmarks pin this to match PyTorch's thread count).
void set_cpu_threads(int n);
int cpu_threads();

// Limits CPU BLAS to one thread for its lifetime and restores the previous count: for BLAS calls made
// concurrently from inside an OpenMP parallel region (each call then runs on its calling thread).
// Nested or concurrent scopes (several host threads) are counted: the last one to end restores the
// count. The count is process-wide: other BLAS calls made meanwhile also run on one thread.
class SingleThreadedCpuBlas {
 public:
  SingleThreadedCpuBlas();
  ~SingleThreadedCpuBlas();
  SingleThreadedCpuBlas(const SingleThreadedCpuBlas&) = delete;
  SingleThreadedCpuBlas& operator=(const SingleThreadedCpuBlas&) = delete;
};

}  // namespace vps::blas
