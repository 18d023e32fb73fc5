// Core op benchmarks: a large broadcast-free elementwise pass (out = a*b + c, 16M f32) and softmax
// over the rows of a (4096, 4096) f32 tensor.
//   vps_bench core_ [--device cpu|cuda] [threads] [device] [n=16777216] [side=4096]
// threads sets OpenMP; n and side shrink the cases (bench-smoke).
#include <omp.h>

#include <cstdio>
#include <string>

#include "bench/bench_registry.h"
#include "ops/ops.h"

namespace {

using vps::Tensor;

struct BenchArgs {
  int threads = 0;
  vps::Device device = vps::kCPU;
  int64_t n = int64_t(1) << 24, side = 4096;
};

BenchArgs parse(const std::vector<std::string>& args) {
  BenchArgs b;
  if (args.size() > 0) b.threads = std::stoi(args[0]);
  b.device = vps::bench::device_arg(args, 1);
  if (args.size() > 2) b.n = std::stoll(args[2]);
  if (args.size() > 3) b.side = std::stoll(args[3]);
  if (b.threads > 0) omp_set_num_threads(b.threads);
  return b;
}

void bench_elementwise(const std::vector<std::string>& args) {
  BenchArgs b = parse(args);
  const int64_t n = b.n;
  vps::Generator g(1);
  Tensor x = vps::uniform({n}, -1, 1, g, vps::DType::f32, b.device);
  Tensor y = vps::uniform({n}, -1, 1, g, vps::DType::f32, b.device);
  Tensor z = vps::uniform({n}, -1, 1, g, vps::DType::f32, b.device);
  Tensor out;
  double ms = vps::bench::time_ms([&] { out = vps::add(vps::mul(x, y), z); }, 7, 2);
  // Traffic of the fused expression: read a, b, c and write out (4 arrays of n floats).
  double gbs = 4.0 * double(n) * 4.0 / (ms * 1e-3) / 1e9;
  char extra[128];
  std::snprintf(extra, sizeof extra, "shape=[%lld] GB/s=%.1f", (long long)n, gbs);
  vps::bench::report("core_ew_mul_add", ms, extra);
}

void bench_softmax(const std::vector<std::string>& args) {
  BenchArgs b = parse(args);
  vps::Generator g(2);
  Tensor x = vps::uniform({b.side, b.side}, -5, 5, g, vps::DType::f32, b.device);
  Tensor out;
  double ms = vps::bench::time_ms([&] { out = vps::softmax(x, 1); }, 7, 2);
  double gbs = 2.0 * double(x.numel()) * 4.0 / (ms * 1e-3) / 1e9;  // read x, write y
  char extra[128];
  std::snprintf(extra, sizeof extra, "shape=[%lld,%lld] GB/s=%.1f", (long long)b.side, (long long)b.side, gbs);
  vps::bench::report("core_softmax_rows", ms, extra);
}

}  // namespace

VPS_BENCH_DEVICE("core_ew_mul_add", bench_elementwise);
VPS_BENCH_DEVICE("core_softmax_rows", bench_softmax);
