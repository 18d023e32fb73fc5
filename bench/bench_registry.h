// Benchmarks of the vps_bench binary: each bench/<area>_bench.cpp registers named cases with
// VPS_BENCH("name", fn), or VPS_BENCH_DEVICE("name", fn) for a case that also runs on a GPU.
//   vps_bench NAME [--device cpu|cuda] [--tf32 0] [--precision f32|bf16] [args]
// runs one case (or every case whose name starts with NAME). --device and --tf32 may stand anywhere
// after NAME; the remaining arguments reach the case in order. --device cuda is refused, by name,
// for a CPU-only case, in a build without CUDA and on a machine without a GPU (exit 1), never
// silently run on the CPU. --tf32 1 is refused: vps has no TF32 mode (float32 GEMMs use cuBLAS's
// default math and cuDNN's TF32 algorithms are filtered out, layers/conv2d_cudnn.cpp), so only the
// PyTorch sides compare TF32 on and off (docs/gpu.md).
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"

namespace vps::bench {

using BenchFn = std::function<void(const std::vector<std::string>& args)>;
struct BenchCase {
  BenchFn fn;
  bool device_capable = false;  // honours --device cuda
};
std::map<std::string, BenchCase>& registry();
struct BenchRegistrar {
  BenchRegistrar(const std::string& name, BenchFn fn, bool device_capable = false) {
    registry()[name] = BenchCase{std::move(fn), device_capable};
  }
};

// The options main() parsed off the command line (--device; --tf32 is checked there).
struct Options {
  Device device = kCPU;
  MatmulPrecision precision = MatmulPrecision::f32;  // --precision f32|bf16 (the cases that model a frame)
};
const Options& options();
Options& mutable_options();
// The device of a case that also takes it as positional argument i (the older form, e.g.
// `vps_bench conv_ cuda 4`): args[i] when given (it then becomes options().device, so that
// sync_device waits for it), otherwise options().device.
Device device_arg(const std::vector<std::string>& args, size_t i);

// Waits for every queued kernel of options().device (cudaDeviceSynchronize; nothing on the CPU) and
// throws a named error if one of them failed.
void sync_device();

// Median wall time in milliseconds of `reps` calls of f after `warmup` calls. `sync` runs after each
// call; without one, sync_device() does, so that GPU work is counted on --device cuda.
double time_ms(const std::function<void()>& f, int reps = 5, int warmup = 1,
               const std::function<void()>& sync = nullptr);

// Prints one result line in the format bench scripts parse: "RESULT name ms extra".
void report(const std::string& name, double ms, const std::string& extra = "");

// On --device cuda: "RESULT <prefix>_peak_gpu_mb MB" from our caching allocator's peak of bytes
// handed out (the counterpart of torch.cuda.max_memory_allocated); nothing on the CPU.
void report_peak_gpu_memory(const std::string& prefix, const std::string& extra = "");

}  // namespace vps::bench

#define VPS_BENCH_CAT_(a, b) a##b
#define VPS_BENCH_CAT(a, b) VPS_BENCH_CAT_(a, b)
#define VPS_BENCH(name, fn) static ::vps::bench::BenchRegistrar VPS_BENCH_CAT(vps_bench_reg_, __LINE__)(name, fn)
#define VPS_BENCH_DEVICE(name, fn) \
  static ::vps::bench::BenchRegistrar VPS_BENCH_CAT(vps_bench_reg_, __LINE__)(name, fn, true)
