// One kernel body for CPU and CUDA. A body is a functor with an HD operator() or a VPS_KERNEL
// lambda, called as f(i) for i in [0, n). parallel_for runs it as an OpenMP loop on CPU or a
// grid-stride kernel on CUDA. .cu files are compiled by nvcc (CUDA=1) or by g++ -x c++ (CUDA=0): the
// same arithmetic runs in both builds, so the CPU tests exercise the GPU kernels' bodies.
//
// Why VPS_KERNEL and not a __host__ __device__ lambda: nvcc replaces such a lambda in host code by a
// type-erased wrapper (a heap copy and an indirect call per invocation), so a CPU loop over it cannot
// inline or vectorise the body -- the CPU path of a CUDA build ran 5-10x slower than the same body
// built by g++. VPS_KERNEL((int64_t i) { ... }) writes the body once and makes two closures of it: a
// __device__ lambda for the CUDA kernel and a plain lambda for the CPU loop (in a CPU build just the
// plain one). Bodies that are passed on to other templates (element ops, reduction folds) are functor
// structs instead: a closure type of a VPS_KERNEL cannot be captured by another extended lambda.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/check.h"
#include "tensor/device.h"
#include "tensor/dtype.h"

#ifdef __CUDACC__
#define HD __host__ __device__
#else
#define HD
#endif

namespace vps {

constexpr int kMaxDims = 8;

// The two closures of one VPS_KERNEL body (the same closure twice in a CPU build).
template <class D, class H>
struct HdKernel {
  D device;
  H host;
};
template <class D, class H>
HdKernel<D, H> make_hd_kernel(D d, H h) {
  return {d, h};
}
template <class H>
HdKernel<H, H> make_hd_kernel(H h) {
  return {h, h};
}
template <class T>
struct IsHdKernel {
  static constexpr bool value = false;
};
template <class D, class H>
struct IsHdKernel<HdKernel<D, H>> {
  static constexpr bool value = true;
};

}  // namespace vps

// VPS_KERNEL((int64_t i) { body }): capture-by-value kernel body for parallel_for (see the top).
#ifdef __CUDACC__
#define VPS_KERNEL(...) ::vps::make_hd_kernel([=] __device__ __VA_ARGS__, [=] __VA_ARGS__)
#else
#define VPS_KERNEL(...) ::vps::make_hd_kernel([=] __VA_ARGS__)
#endif

namespace vps {

// Maps a linear index over `size` (row-major) to an element offset through `stride`.
// Broadcast dimensions carry stride 0. Passed by value into kernels.
struct StridedIndexer {
  int ndim = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
  int64_t base = 0;
  HD int64_t operator()(int64_t linear) const {
    int64_t off = base;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t q = linear / size[d];
      off += (linear - q * size[d]) * stride[d];
      linear = q;
    }
    return off;
  }
};

#if VPS_CUDA
void cuda_check_launch(const char* what);  // throws vps::Error after a failed launch
#endif

#ifdef __CUDACC__
template <class F>
__global__ void vps_parallel_for_kernel(int64_t n, F f) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) f(i);
}
#endif

// Work (items x cost) below which the CPU loop stays on one thread (start-up costs more than the work).
constexpr int64_t kParallelGrain = 16384;

namespace detail {
template <class F>
void cpu_parallel_for(int64_t n, const F& f, int64_t cost) {
#pragma omp parallel for schedule(static) if (n * cost >= kParallelGrain && n > 1)
  for (int64_t i = 0; i < n; ++i) f(i);
}
template <class F>
void cuda_parallel_for(int64_t n, const F& f) {
#ifdef __CUDACC__
  int threads = 256;
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks > 65536) blocks = 65536;
  vps_parallel_for_kernel<<<unsigned(blocks), threads>>>(n, f);
  cuda_check_launch("parallel_for");
#else
  VPS_FAIL("a CUDA tensor reached a kernel compiled without CUDA (build with CUDA=1)");
#endif
}
}  // namespace detail

// `cost`: rough work of one item in elements (e.g. the row length for one-row-per-item bodies), so
// that a few long rows still spread over the CPU threads. It does not change the CUDA launch.
// `f`: a VPS_KERNEL body or a functor whose operator() is HD.
template <class F>
void parallel_for(Device device, int64_t n, const F& f, int64_t cost = 1) {
  if (n <= 0) return;
  if constexpr (IsHdKernel<F>::value) {
    if (device.is_cuda()) detail::cuda_parallel_for(n, f.device);
    else detail::cpu_parallel_for(n, f.host, cost);
  } else {
    if (device.is_cuda()) detail::cuda_parallel_for(n, f);
    else detail::cpu_parallel_for(n, f, cost);
  }
}

// Atomic add usable in scatter-style backward bodies (col2im, RoIAlign backward, warp backward).
// On CPU the OpenMP loop may run it concurrently, so it is atomic there too.
template <class T>
HD inline void atomic_add(T* addr, T v) {
#ifdef __CUDA_ARCH__
  atomicAdd(addr, v);
#else
#pragma omp atomic
  *addr += v;
#endif
}

}  // namespace vps

// Dtype dispatch: VPS_DISPATCH_FLOAT(t, "op", [&] { ... scalar_t ... });
#define VPS_DISPATCH_CASE_(DT, T, ...) \
  case DT: {                          \
    using scalar_t = T;               \
    __VA_ARGS__();                    \
    break;                            \
  }
#define VPS_DISPATCH_FLOAT(dtype, name, ...)                                                  \
  do {                                                                                        \
    switch (dtype) {                                                                          \
      VPS_DISPATCH_CASE_(::vps::DType::f32, float, __VA_ARGS__)                               \
      VPS_DISPATCH_CASE_(::vps::DType::f64, double, __VA_ARGS__)                              \
      default: VPS_FAIL(name, ": unsupported dtype ", ::vps::dtype_name(dtype), " (expected float32 or float64)"); \
    }                                                                                         \
  } while (0)
#define VPS_DISPATCH_ALL(dtype, name, ...)                                                    \
  do {                                                                                        \
    switch (dtype) {                                                                          \
      VPS_DISPATCH_CASE_(::vps::DType::f32, float, __VA_ARGS__)                               \
      VPS_DISPATCH_CASE_(::vps::DType::f64, double, __VA_ARGS__)                              \
      VPS_DISPATCH_CASE_(::vps::DType::i32, int32_t, __VA_ARGS__)                             \
      VPS_DISPATCH_CASE_(::vps::DType::i64, int64_t, __VA_ARGS__)                             \
      VPS_DISPATCH_CASE_(::vps::DType::u8, uint8_t, __VA_ARGS__)                              \
      VPS_DISPATCH_CASE_(::vps::DType::b8, uint8_t, __VA_ARGS__)                              \
      default: VPS_FAIL(name, ": unsupported dtype ", ::vps::dtype_name(dtype));              \
    }                                                                                         \
  } while (0)
