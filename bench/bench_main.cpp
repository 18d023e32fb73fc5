// vps_bench's entry point: the shared options (--device, --tf32), the timing helpers, the case list.
#include <algorithm>
#include <cstdio>

#include "bench/bench_registry.h"
#include "tensor/allocator.h"
#include "tensor/check.h"
#if VPS_CUDA
#include <cuda_runtime.h>
#endif

namespace vps::bench {

std::map<std::string, BenchCase>& registry() {
  static std::map<std::string, BenchCase> r;
  return r;
}

Options& mutable_options() {
  static Options o;
  return o;
}
const Options& options() { return mutable_options(); }

Device device_arg(const std::vector<std::string>& args, size_t i) {
  if (args.size() > i) mutable_options().device = Device::parse(args[i]);
  return options().device;
}

void sync_device() {
#if VPS_CUDA
  if (!options().device.is_cuda()) return;
  cudaError_t e = cudaDeviceSynchronize();
  VPS_CHECK(e == cudaSuccess, "cudaDeviceSynchronize failed: ", cudaGetErrorString(e));
#endif
}

double time_ms(const std::function<void()>& f, int reps, int warmup, const std::function<void()>& sync) {
  const std::function<void()>& wait = sync ? sync : std::function<void()>(sync_device);
  for (int i = 0; i < warmup; ++i) {
    f();
    wait();
  }
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto a = std::chrono::steady_clock::now();
    f();
    wait();
    auto b = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void report(const std::string& name, double ms, const std::string& extra) {
  std::printf("RESULT %s %.4f %s\n", name.c_str(), ms, extra.c_str());
  std::fflush(stdout);
}

void report_peak_gpu_memory(const std::string& prefix, const std::string& extra) {
  Device d = options().device;
  if (!d.is_cuda()) return;
  sync_device();
  report(prefix + "_peak_gpu_mb", double(cuda_allocator_stats(d.index).peak_allocated_bytes) / (1 << 20), extra);
}

}  // namespace vps::bench

namespace {

int usage() {
  std::printf("usage: vps_bench NAME [--device cpu|cuda] [--tf32 0] [--precision f32|bf16] [args]   (vps_bench --list: the cases)\n");
  return 2;
}

// Takes --device X, --tf32 X and --precision X off args (anywhere). Returns an exit code, or -1 to go on.
int parse_options(std::vector<std::string>& args) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a != "--device" && a != "--tf32" && a != "--precision") {
      rest.push_back(a);
      continue;
    }
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "vps_bench: %s needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = args[++i];
    if (a == "--precision") {
      if (v != "f32" && v != "bf16") {
        std::fprintf(stderr, "vps_bench: --precision must be f32 or bf16, got '%s'\n", v.c_str());
        return 2;
      }
      vps::bench::mutable_options().precision = v == "bf16" ? vps::MatmulPrecision::bf16 : vps::MatmulPrecision::f32;
      continue;
    }
    if (a == "--tf32") {
      if (v == "0") continue;
      std::fprintf(stderr, "vps_bench: --tf32 must be 0, got '%s': vps has no TF32 mode (float32 runs in full "
                   "precision on cuBLAS and cuDNN; docs/gpu.md)\n", v.c_str());
      return 2;
    }
    if (v != "cpu" && v != "cuda" && v.rfind("cuda:", 0) != 0) {
      std::fprintf(stderr, "vps_bench: --device must be cpu or cuda[:N], got '%s'\n", v.c_str());
      return 2;
    }
    vps::bench::mutable_options().device = vps::Device::parse(v);
  }
  args = rest;
  vps::Device d = vps::bench::options().device;
  if (d.is_cuda()) {
#if !VPS_CUDA
    std::fprintf(stderr, "vps_bench: --device %s: this build has no CUDA (make CUDA=1)\n", d.str().c_str());
    return 1;
#else
    if (d.index >= vps::cuda_device_count()) {
      std::fprintf(stderr, "vps_bench: --device %s: no such CUDA device (%d found)\n", d.str().c_str(),
                   vps::cuda_device_count());
      return 1;
    }
#endif
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  auto& reg = vps::bench::registry();
  if (argc < 2) return usage();
  std::string want = argv[1];
  if (want == "--list") {  // one case a line with the devices it runs on (scripts/gpu_check.sh reads it)
    for (auto& [n, c] : reg) std::printf("%s %s\n", n.c_str(), c.device_capable ? "cpu,cuda" : "cpu");
    return 0;
  }
  if (want.rfind("--", 0) == 0) return usage();
  std::vector<std::string> args(argv + 2, argv + argc);
  if (int rc = parse_options(args); rc >= 0) return rc;
  const bool on_gpu = vps::bench::options().device.is_cuda();
  int ran = 0;
  try {
    for (auto& [n, c] : reg) {
      if (n.rfind(want, 0) != 0) continue;
      if (on_gpu && !c.device_capable) {
        std::fprintf(stderr, "vps_bench: case %s runs on the CPU only (no --device cuda)\n", n.c_str());
        return 1;
      }
      c.fn(args);
      ++ran;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vps_bench: %s\n", e.what());
    return 1;
  }
  if (!ran) {
    std::fprintf(stderr, "vps_bench: no case named %s (vps_bench --list)\n", want.c_str());
    return 2;
  }
  return 0;
}
