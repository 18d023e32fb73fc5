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

#include "tensor/allocator.h"
#include "tensor/check.h"
#include "tensor/device.h"
#include "tensor/dtype.h"

#ifdef __CUDACC__
#define HD __host__ __device__
#else
#define HD
#endif

// A CPU function built twice on x86-64 with GCC: for x86-64-v3 (AVX2, FMA) and for the build's
// baseline (x86-64-v2), the clone picked at load time by the CPU (target_clones); elsewhere built once.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VPS_AVX2_CLONE __attribute__((target_clones("arch=x86-64-v3", "default")))
// The same with an AVX-512 clone first (x86-64-v4), for the bf16 path's loops (AVX-512 machines).
#define VPS_AVX512_CLONE __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define VPS_AVX2_CLONE
#define VPS_AVX512_CLONE
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
// 4096: the demo's tiny training step (mostly small ops) took 58-60 ms instead of 61-63 with 16384 on
// 2 threads (200 late steps, 2 runs each, 2026-12-06); 1024 was no faster. Items are independent, so
// the value changes no result.
constexpr int64_t kParallelGrain = 4096;

// The closure of a VPS_KERNEL body (or the functor itself) that runs on CPU / on CUDA.
template <class F>
const auto& host_part(const F& f) {
  if constexpr (IsHdKernel<F>::value) return f.host;
  else return f;
}
template <class F>
const auto& device_part(const F& f) {
  if constexpr (IsHdKernel<F>::value) return f.device;
  else return f;
}

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
  if (device.is_cuda()) detail::cuda_parallel_for(n, device_part(f));
  else detail::cpu_parallel_for(n, host_part(f), cost);
}

// ------------------------------------------------------------------------------------------ reductions
// parallel_reduce_rows(device, rows, n, init, map, combine, store): for every row r in [0, rows),
//   acc = init; for j in [0, n): acc = combine(acc, map(r, j));  then store(r, acc).
// map, combine and store are VPS_KERNEL bodies or HD functors; combine must be associative (up to
// round-off) with init its identity; Acc is a trivially copyable type (a number or a small struct).
// CPU: rows in parallel (OpenMP), each row folded in order j = 0, 1, ... on one thread, so the result
// does not depend on the thread count. CUDA: a block of kReduceThreads threads per row, each folding
// a strided share of it, then a shared-memory tree with `combine` (a fixed order: the same bits on
// every run); when a few long rows would leave the GPU idle (a full sum), each row is first cut into
// chunks reduced by blocks of their own, and a second pass combines the chunks' partials.
constexpr int kReduceThreads = 256;

#ifdef __CUDACC__
template <class Acc, class Combine>
__device__ Acc block_reduce(Acc v, const Combine& combine, Acc* sm) {
  sm[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (int(threadIdx.x) < s) sm[threadIdx.x] = combine(sm[threadIdx.x], sm[threadIdx.x + s]);
    __syncthreads();
  }
  Acc r = sm[0];
  __syncthreads();  // sm may be reused by the caller's next row
  return r;
}

// Block t of rows * chunks reduces [j0, j1) of row t / chunks and stores its result as store(t, acc).
template <class Acc, class Map, class Combine, class Store>
__global__ void vps_reduce_rows_kernel(int64_t rows, int64_t n, int64_t chunks, int64_t clen, Acc init, Map map,
                                       Combine combine, Store store) {
  __shared__ __align__(16) unsigned char raw[kReduceThreads * sizeof(Acc)];
  Acc* sm = reinterpret_cast<Acc*>(raw);
  for (int64_t t = blockIdx.x; t < rows * chunks; t += gridDim.x) {
    int64_t r = t / chunks, j0 = (t % chunks) * clen, j1 = j0 + clen < n ? j0 + clen : n;
    Acc acc = init;
    for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) acc = combine(acc, map(r, j));
    acc = block_reduce(acc, combine, sm);
    if (threadIdx.x == 0) store(t, acc);
  }
}

template <class Acc>
struct ReducePartialStore {  // pass 1: the partial of chunk t
  Acc* part;
  __device__ void operator()(int64_t t, const Acc& v) const { part[t] = v; }
};
template <class Acc>
struct ReducePartialMap {  // pass 2: row r's partials
  const Acc* part;
  int64_t chunks;
  __device__ Acc operator()(int64_t r, int64_t c) const { return part[r * chunks + c]; }
};
#endif

template <class Acc, class Map, class Combine, class Store>
void parallel_reduce_rows(Device device, int64_t rows, int64_t n, Acc init, const Map& map, const Combine& combine,
                          const Store& store) {
  if (rows <= 0) return;
  if (!device.is_cuda()) {
    const auto& m = host_part(map);
    const auto& c = host_part(combine);
    const auto& st = host_part(store);
#pragma omp parallel for schedule(static) if (rows * n >= kParallelGrain && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
      Acc acc = init;
      for (int64_t j = 0; j < n; ++j) acc = c(acc, m(r, j));
      st(r, acc);
    }
    return;
  }
#ifdef __CUDACC__
  const auto& m = device_part(map);
  const auto& c = device_part(combine);
  const auto& st = device_part(store);
  // Enough blocks to fill a large GPU (about 1024), chunks of at least 4 elements a thread.
  int64_t chunks = 1;
  if (rows < 1024 && n > 4 * kReduceThreads) {
    int64_t want = (1024 + rows - 1) / rows, most = (n + 4 * kReduceThreads - 1) / (4 * kReduceThreads);
    chunks = want < most ? want : most;
  }
  int64_t clen = (n + chunks - 1) / chunks;
  auto grid = [](int64_t blocks) { return unsigned(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536); };
  if (chunks == 1) {
    vps_reduce_rows_kernel<<<grid(rows), kReduceThreads>>>(rows, n, int64_t(1), n, init, m, c, st);
    cuda_check_launch("parallel_reduce_rows");
    return;
  }
  size_t bytes = size_t(rows * chunks) * sizeof(Acc);
  Acc* part = static_cast<Acc*>(allocate_bytes(device, bytes));  // the chunk partials
  vps_reduce_rows_kernel<<<grid(rows * chunks), kReduceThreads>>>(rows, n, chunks, clen, init, m, c,
                                                                   ReducePartialStore<Acc>{part});
  cuda_check_launch("parallel_reduce_rows (chunks)");
  vps_reduce_rows_kernel<<<grid(rows), kReduceThreads>>>(rows, chunks, int64_t(1), chunks, init,
                                                          ReducePartialMap<Acc>{part, chunks}, c, st);
  cuda_check_launch("parallel_reduce_rows (partials)");
  free_bytes(device, part, bytes);  // stream-ordered: a later kernel reusing the block runs after these
#else
  VPS_FAIL("a CUDA tensor reached a reduction compiled without CUDA (build with CUDA=1)");
#endif
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

// A scatter body's add: plain when the caller gives each item its own output region (one writer:
// the CPU sweeps whole planes), atomic otherwise (CUDA, one item per element).
template <class T>
HD inline void scatter_add(T* addr, T v, bool single_writer) {
  if (single_writer)
    *addr += v;
  else
    atomic_add(addr, v);
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
