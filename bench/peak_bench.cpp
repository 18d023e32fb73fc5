// This CPU's float32 FMA peak on T threads: independent FMA chains in registers, no memory traffic.
// `vps_bench fma_peak [threads=1]`; prints "RESULT fma_peak MS threads=T isa=I gflops=G" (MS: one
// run of every thread's chains, the median of 5). bench_gemm.sh reads it beside the GEMM: this
// machine's clock drifts by 10-30% within minutes, so a GEMM's GFLOP/s means something only beside
// the peak taken in the same minutes. I: avx512 (24 chains of 16 lanes), or none on CPUs without
// AVX-512 (x86-64 GCC/clang builds only), where the case measures nothing and reports gflops=0.
#include <omp.h>

#include <string>

#include "bench/bench_registry.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VPS_PEAK_X86 1
#else
#define VPS_PEAK_X86 0
#endif

namespace {

constexpr int64_t kIters = 12500000;  // per thread: ~50 ms on a 3 GHz core, as long as a 2048^3 GEMM

#if VPS_PEAK_X86
// 24 independent chains: more than FMA latency (4) x ports (2) in flight, all in zmm registers.
__attribute__((target("avx512f"))) float chains_avx512(int64_t iters) {
  __m512 a[24];
  for (int i = 0; i < 24; ++i) a[i] = _mm512_set1_ps(0.001f * float(i));
  const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(0.0001f);
  for (int64_t k = 0; k < iters; ++k) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, a[i]);
  alignas(64) float v[16];  // not _mm512_reduce_add_ps: GCC 12 warns of an uninitialised lane in it
  _mm512_store_ps(v, s);
  float t = 0;
  for (float x : v) t += x;
  return t;
}
#endif

void fma_peak_case(const std::vector<std::string>& args) {
  const int threads = args.size() > 0 ? std::stoi(args[0]) : 1;
  omp_set_num_threads(threads);
  std::string isa = "none";
  double flops_per_iter = 0;  // multiply-adds x 2 of one loop trip, one thread
  float (*chains)(int64_t) = nullptr;
#if VPS_PEAK_X86
  if (__builtin_cpu_supports("avx512f"))
    isa = "avx512", flops_per_iter = 24 * 16 * 2, chains = chains_avx512;
#endif
  volatile float sink = 0;  // keeps the chains' results alive
  int used = 1;
  double ms = vps::bench::time_ms([&] {
    if (!chains) return;
    float total = 0;
#pragma omp parallel reduction(+ : total)
    {
#pragma omp single
      used = omp_get_num_threads();
      total += chains(kIters);
    }
    sink = sink + total;
  });
  double gflops = chains ? double(used) * double(kIters) * flops_per_iter / (ms * 1e6) : 0.0;
  vps::bench::report("fma_peak", ms,
                     "threads=" + std::to_string(used) + " isa=" + isa + " gflops=" + std::to_string(gflops));
}

}  // namespace

VPS_BENCH("fma_peak", fma_peak_case);
