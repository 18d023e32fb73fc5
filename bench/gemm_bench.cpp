// GEMM benchmark: C = A B for square f32 matrices through vps::matmul (OpenBLAS on CPU, cuBLAS on
// CUDA). `vps_bench gemm [--device cpu|cuda] [threads=1] [n=2048] [cpu|cuda]`; prints "RESULT gemm MS n=N threads=T gflops=G".
#include <omp.h>

#include <string>

#include "bench/bench_registry.h"
#include "ops/ops.h"

namespace {

void gemm_case(const std::vector<std::string>& args) {
  int threads = args.size() > 0 ? std::stoi(args[0]) : 1;
  int64_t n = args.size() > 1 ? std::stoll(args[1]) : 2048;
  vps::Device dev = vps::bench::device_arg(args, 2);
  omp_set_num_threads(threads);
  vps::Generator g(0);
  vps::Tensor a = vps::randn({n, n}, g, vps::DType::f32, dev), b = vps::randn({n, n}, g, vps::DType::f32, dev), c;
  double ms = vps::bench::time_ms([&] { c = vps::matmul(a, b); }, 5, 1);  // waits for the GPU (sync_device)
  double gflops = 2.0 * double(n) * double(n) * double(n) / (ms * 1e6);
  vps::bench::report("gemm", ms,
                     "n=" + std::to_string(n) + " threads=" + std::to_string(threads) + " device=" + dev.str() +
                         " gflops=" + std::to_string(gflops));
}

}  // namespace

VPS_BENCH_DEVICE("gemm", gemm_case);
