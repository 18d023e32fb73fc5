#include "tensor/blas.h"

#include <cblas.h>

#include <map>
#include <mutex>

#include "tensor/check.h"
#if VPS_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

namespace vps::blas {

void set_cpu_threads(int n) { openblas_set_num_threads(n); }
int cpu_threads() { return openblas_get_num_threads(); }

namespace {
std::mutex single_mu;
int single_depth = 0, single_saved = 1;
}  // namespace

SingleThreadedCpuBlas::SingleThreadedCpuBlas() {
  std::lock_guard<std::mutex> lock(single_mu);
  if (single_depth++ == 0) {
    single_saved = cpu_threads();
    if (single_saved != 1) set_cpu_threads(1);
  }
}

SingleThreadedCpuBlas::~SingleThreadedCpuBlas() {
  std::lock_guard<std::mutex> lock(single_mu);
  if (--single_depth == 0 && single_saved != 1) set_cpu_threads(single_saved);
}

#if VPS_CUDA
static cublasHandle_t cublas_handle(int device) {
  static std::mutex mu;
  static std::map<int, cublasHandle_t> handles;
  std::lock_guard<std::mutex> lock(mu);
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  cudaSetDevice(device);
  cublasHandle_t h;
  cublasStatus_t s = cublasCreate(&h);
  VPS_CHECK(s == CUBLAS_STATUS_SUCCESS, "cublasCreate failed on cuda:", device, " (status ", int(s), ")");
  handles[device] = h;
  return h;
}

// cuBLAS is column-major: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
static void cublas_gemm(int dev, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* alpha,
                        const float* a, int64_t lda, int64_t sa, const float* b, int64_t ldb, int64_t sb,
                        const float* beta, float* c, int64_t ldc, int64_t sc, int64_t batch) {
  cublasStatus_t s = cublasSgemmStridedBatched(cublas_handle(dev), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                               ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), alpha, b,
                                               int(ldb), sb, a, int(lda), sa, beta, c, int(ldc), sc, int(batch));
  VPS_CHECK(s == CUBLAS_STATUS_SUCCESS, "cublasSgemmStridedBatched failed (status ", int(s), ")");
}
static void cublas_gemm(int dev, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* alpha,
                        const double* a, int64_t lda, int64_t sa, const double* b, int64_t ldb, int64_t sb,
                        const double* beta, double* c, int64_t ldc, int64_t sc, int64_t batch) {
  cublasStatus_t s = cublasDgemmStridedBatched(cublas_handle(dev), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                               ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k), alpha, b,
                                               int(ldb), sb, a, int(lda), sa, beta, c, int(ldc), sc, int(batch));
  VPS_CHECK(s == CUBLAS_STATUS_SUCCESS, "cublasDgemmStridedBatched failed (status ", int(s), ")");
}
#endif

static void cpu_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
static void cpu_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                     const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

template <class T>
void gemm_batched(Device device, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                  int64_t sa, const T* b, int64_t ldb, int64_t sb, T beta, T* c, int64_t ldc, int64_t sc,
                  int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  if (device.is_cuda()) {
#if VPS_CUDA
    cublas_gemm(device.index, ta, tb, m, n, k, &alpha, a, lda, sa, b, ldb, sb, &beta, c, ldc, sc, batch);
    return;
#else
    VPS_FAIL("gemm on ", device.str(), " needs a CUDA build");
#endif
  }
  for (int64_t i = 0; i < batch; ++i) cpu_gemm(ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
}

template <class T>
void gemm(Device device, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  gemm_batched<T>(device, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

template void gemm<float>(Device, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t);
template void gemm<double>(Device, bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);
template void gemm_batched<float>(Device, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                                  const float*, int64_t, int64_t, float, float*, int64_t, int64_t, int64_t);
template void gemm_batched<double>(Device, bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                   int64_t, const double*, int64_t, int64_t, double, double*, int64_t, int64_t, int64_t);

}  // namespace vps::blas
