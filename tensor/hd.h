// One kernel body for CPU and CUDA. A body is a functor or lambda marked HD, called as f(i) for
// i in [0, n). parallel_for runs it as an OpenMP loop on CPU or a grid-stride kernel on CUDA.
// .cu files are compiled by nvcc (CUDA=1) or by g++ -x c++ (CUDA=0): the same arithmetic runs in
// both builds, so the CPU tests exercise the GPU kernels' bodies.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/check.h"
#include "tensor/device.h"
#include "tensor/dtype.h"

#ifdef __CUDACC__
#define HD __host__ __device__
#define VPS_HOST_DEVICE_LAMBDA __host__ __device__
#else
#define HD
#define VPS_HOST_DEVICE_LAMBDA
#endif

// VPS_LAMBDA: capture-by-value lambda usable in both backends: parallel_for(d, n, VPS_LAMBDA(int64_t i) {...});
#define VPS_LAMBDA [=] VPS_HOST_DEVICE_LAMBDA

namespace vps {

constexpr int kMaxDims = 8;

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

// `cost`: rough work of one item in elements (e.g. the row length for one-row-per-item bodies), so
// that a few long rows still spread over the CPU threads. It does not change the CUDA launch.
template <class F>
void parallel_for(Device device, int64_t n, F f, int64_t cost = 1) {
  if (n <= 0) return;
  if (device.is_cuda()) {
#ifdef __CUDACC__
    int threads = 256;
    int64_t blocks = (n + threads - 1) / threads;
    if (blocks > 65536) blocks = 65536;
    vps_parallel_for_kernel<<<unsigned(blocks), threads>>>(n, f);
    cuda_check_launch("parallel_for");
#else
    VPS_FAIL("a CUDA tensor reached a kernel compiled without CUDA (build with CUDA=1)");
#endif
    return;
  }
#pragma omp parallel for schedule(static) if (n * cost >= kParallelGrain && n > 1)
  for (int64_t i = 0; i < n; ++i) f(i);
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
