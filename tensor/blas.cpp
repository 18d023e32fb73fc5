#include "tensor/blas.h"

#include <cblas.h>

#include <omp.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/check.h"
#if VPS_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif
#if VPS_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

namespace vps::blas {

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

// float32: oneDNN's sgemm where vps is built with it (DNNL=1: JIT kernels picked by the CPU's features,
// AVX-512 included, where Debian's OpenBLAS 0.3.21 may run older ones; 1.6-2.2x faster on the skinny
// products of im2col convolutions, docs/conv.md), OpenBLAS otherwise. Either runs on one thread here:
// both take their thread count from OpenMP (OpenBLAS is Debian's OpenMP build, Makefile OPENBLAS_DIR),
// so outside a parallel region the caller's count is set to 1 for the call (OneOmpThread); inside one
// they run on the calling thread by themselves. (openblas_set_num_threads would not do: in the OpenMP
// build it sets the calling thread's OpenMP count, and with it every later parallel region's.)
static void cpu_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#if VPS_DNNL
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  VPS_CHECK(st == dnnl_success, "oneDNN sgemm failed (status ", int(st), ") on ", m, "x", n, "x", k);
#else
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
#endif
}
static void cpu_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                     const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// bf16 x bf16 -> float32 through oneDNN's matmul primitive (AMX or AVX512-BF16 kernels, chosen by
// oneDNN for this CPU), on the calling thread as cpu_gemm. oneDNN caches the primitives it makes (a
// repeated shape costs ~2 us to look up), so none are kept here. beta != 0 is a sum post-op.
static void matmul_bf16(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const bf16* a, int64_t lda,
                        const bf16* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#if VPS_DNNL
  using dnnl::memory;
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  try {
    memory::desc ad({m, k}, memory::data_type::bf16, ta ? memory::dims{1, lda} : memory::dims{lda, 1});
    memory::desc bd({k, n}, memory::data_type::bf16, tb ? memory::dims{1, ldb} : memory::dims{ldb, 1});
    memory::desc cd({m, n}, memory::data_type::f32, memory::dims{ldc, 1});
    dnnl::primitive_attr attr;
    if (beta != 0.f) {
      dnnl::post_ops po;
      po.append_sum(beta);
      attr.set_post_ops(po);
    }
    dnnl::matmul mm(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), attr, engine));
    dnnl::stream stream(engine);
    memory am(ad, engine, const_cast<bf16*>(a)), bm(bd, engine, const_cast<bf16*>(b)), cm(cd, engine, c);
    mm.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    stream.wait();
  } catch (const dnnl::error& e) {
    VPS_FAIL("oneDNN bf16 matmul failed on ", m, "x", n, "x", k, ": ", e.what(), " (status ", int(e.status), ")");
  }
#else
  (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)beta, (void)c,
      (void)ldc;
  VPS_FAIL("bf16 GEMM: vps was built without oneDNN (DNNL=0)");
#endif
}

std::string bf16_gemm_unavailable() {
#if VPS_DNNL
  static const std::string why = [] {
    try {  // a 16x16x16 product: oneDNN refuses it where it has no bf16 kernel for this CPU
      std::vector<bf16> a(256, bf16(1.f));
      std::vector<float> c(256, 0.f);
      matmul_bf16(false, false, 16, 16, 16, a.data(), 16, a.data(), 16, 0.f, c.data(), 16);
      return c[0] == 16.f ? std::string() : str_cat("oneDNN's bf16 matmul gave ", c[0], " for 16 ones");
    } catch (const std::exception& e) {
      return str_cat("this CPU has no oneDNN bf16 matmul (it needs AVX-512): ", e.what());
    }
  }();
  return why;
#else
  return "vps was built without oneDNN (DNNL=0), which the bf16 path runs on";
#endif
}

// The CPU GEMM in blocks fixed by the shape alone. OpenBLAS rounds differently with another thread count
// (its threaded driver cuts K and M otherwise than the single-threaded one), so OpenBLAS always runs on
// one thread and the blocks run on OpenMP threads: the same bits on 1, 2 or N threads
// (docs/determinism.md). A block is a strip of C's rows (split M) or columns (split N): whichever
// packs less of the other operand again per extra block.
namespace {
constexpr int64_t kGemmMinWork = int64_t(1) << 21;  // multiply-adds below which C stays one block
constexpr int64_t kGemmMinStrip = 64;                // rows / columns of a strip, at least
constexpr int64_t kGemmMaxStrips = 8;

struct GemmSplit {
  bool along_m = true;
  int64_t strips = 1, len = 0;  // strips of `len` rows (columns), the last one shorter
};
GemmSplit gemm_split(int64_t m, int64_t n, int64_t k) {
  GemmSplit s;
  s.len = m;
  if (m * n * k < kGemmMinWork) return s;
  int64_t sm = std::min(kGemmMaxStrips, m / kGemmMinStrip), sn = std::min(kGemmMaxStrips, n / kGemmMinStrip);
  s.along_m = sm > sn || (sm == sn && n <= m);
  int64_t dim = s.along_m ? m : n, want = std::max<int64_t>(1, s.along_m ? sm : sn);
  s.len = (dim + want - 1) / want;
  s.len = (s.len + 15) / 16 * 16;  // whole micro-kernel panels
  s.strips = (dim + s.len - 1) / s.len;
  return s;
}

// OpenMP's thread count of the calling thread set to 1 while it lives (outside a parallel region), so
// that a library taking its count from OpenMP (oneDNN, OpenBLAS) runs the call on this thread alone.
struct OneOmpThread {
  int prev = 0;
  OneOmpThread() {
    if (!omp_in_parallel()) prev = omp_get_max_threads(), omp_set_num_threads(1);
  }
  ~OneOmpThread() {
    if (prev > 0) omp_set_num_threads(prev);
  }
  OneOmpThread(const OneOmpThread&) = delete;
  OneOmpThread& operator=(const OneOmpThread&) = delete;
};
}  // namespace

// Runs the GEMM of every strip of every batch item (rows or columns [p0, p0 + len) of C, split as
// gemm_split says) as gemm(m', n', a', b', c') on the strip's operands, on OpenMP threads when the
// work is large enough and no parallel region is running, otherwise here with OpenMP's count at 1
// for the library under the strip. op(A)'s rows r.. start at a + r*lda (no transpose) or a + r
// (transposed); op(B)'s columns likewise.
template <class In, class Out, class Gemm>
void gemm_in_strips(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const In* a, int64_t lda, int64_t sa,
                    const In* b, int64_t ldb, int64_t sb, Out* c, int64_t ldc, int64_t sc, int64_t batch, Gemm&& gemm) {
  if (m == 0 || n == 0 || batch == 0) return;
  const GemmSplit s = gemm_split(m, n, k);
  const int64_t items = batch * s.strips;
  auto run = [&](int64_t it) {
    int64_t i = it / s.strips, p0 = (it % s.strips) * s.len;
    int64_t len = std::min(s.len, (s.along_m ? m : n) - p0);
    const In* ai = a + i * sa;
    const In* bi = b + i * sb;
    Out* ci = c + i * sc;
    if (s.along_m)
      gemm(len, n, ai + (ta ? p0 : p0 * lda), bi, ci + p0 * ldc);
    else
      gemm(m, len, ai, bi + (tb ? p0 * ldb : p0), ci + p0);
  };
  const bool threaded = items > 1 && !omp_in_parallel() && m * n * k * batch >= kGemmMinWork;
  if (!threaded) {
    OneOmpThread one;
    for (int64_t it = 0; it < items; ++it) run(it);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t it = 0; it < items; ++it) run(it);
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
  if (k == 0) {  // an empty sum (a conv with no input channels): C = beta * C; the libraries refuse lda 0
    for (int64_t i = 0; i < batch; ++i)
      for (int64_t r = 0; r < m; ++r) {
        T* row = c + i * sc + r * ldc;
        for (int64_t j = 0; j < n; ++j) row[j] = beta == T(0) ? T(0) : beta * row[j];
      }
    return;
  }
  gemm_in_strips(ta, tb, m, n, k, a, lda, sa, b, ldb, sb, c, ldc, sc, batch,
                 [&](int64_t ms, int64_t ns, const T* as, const T* bs, T* cs) {
                   cpu_gemm(ta, tb, ms, ns, k, alpha, as, lda, bs, ldb, beta, cs, ldc);
                 });
}

void gemm_batched_bf16(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const bf16* a, int64_t lda, int64_t sa,
                       const bf16* b, int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc,
                       int64_t batch) {
  gemm_in_strips(ta, tb, m, n, k, a, lda, sa, b, ldb, sb, c, ldc, sc, batch,
                 [&](int64_t ms, int64_t ns, const bf16* as, const bf16* bs, float* cs) {
                   matmul_bf16(ta, tb, ms, ns, k, as, lda, bs, ldb, beta, cs, ldc);
                 });
}

void gemm_bf16_on_this_thread(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const bf16* a, int64_t lda,
                              const bf16* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  OneOmpThread one;
  matmul_bf16(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
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
