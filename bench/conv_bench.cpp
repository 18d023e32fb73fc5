// conv2d at ResNet-50 shapes, batch 1, float32: forward and forward+backward (grads of x, w, b).
// vps_bench conv_ [--device cpu|cuda] [device=cpu|cuda] [threads] [reps=10]
// prints "RESULT conv_<case>_<pass> ms gflops=G" (bench-smoke: reps 1; the shapes are ResNet-50's own).
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "layers/conv2d.h"

namespace vps::bench {
namespace {

struct ConvCase {
  const char* name;
  int64_t C, H, O, k, stride, pad;
};

void run_case(const ConvCase& c, const std::vector<std::string>& args) {
  Device dev = device_arg(args, 0);
  int threads = args.size() > 1 ? std::stoi(args[1]) : omp_get_max_threads();
  int reps = args.size() > 2 ? std::stoi(args[2]) : 10;  // bench-smoke: 1
  omp_set_num_threads(threads);
  Generator gen(7);
  Tensor x = randn({1, c.C, c.H, c.H}, gen, DType::f32, dev);
  Tensor w = randn({c.O, c.C, c.k, c.k}, gen, DType::f32, dev);
  Tensor b = randn({c.O}, gen, DType::f32, dev);
  int64_t Ho = (c.H + 2 * c.pad - c.k) / c.stride + 1;
  double flops = 2.0 * double(c.O) * double(Ho * Ho) * double(c.C * c.k * c.k);
  auto fwd = [&] {
    autograd::NoGradGuard ng;
    conv2d(x, w, b, {c.stride, c.stride}, {c.pad, c.pad});
  };
  Tensor xg = x.detach().set_requires_grad(), wg = w.detach().set_requires_grad(), bg = b.detach().set_requires_grad();
  Tensor gy = randn({1, c.O, Ho, Ho}, gen, DType::f32, dev);
  auto fwd_bwd = [&] {
    xg.zero_grad(), wg.zero_grad(), bg.zero_grad();
    conv2d(xg, wg, bg, {c.stride, c.stride}, {c.pad, c.pad}).backward(gy);
  };
  // OpenBLAS's pthread workers spin (sched_yield) for ~0.1 s after the library starts; timing the small
  // cases inside that window put our OpenMP worker on a core they hold (1x1 fwd 8 ms instead of 0.6).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double t1 = time_ms(fwd, reps, reps > 1 ? 2 : 1);
  report(std::string("conv_") + c.name + "_fwd", t1, "gflops=" + std::to_string(flops / t1 / 1e6));
  double t2 = time_ms(fwd_bwd, reps, reps > 1 ? 2 : 1);
  report(std::string("conv_") + c.name + "_fwdbwd", t2, "gflops=" + std::to_string(3 * flops / t2 / 1e6));
}

const ConvCase kCases[] = {{"3x3_256_56", 256, 56, 256, 3, 1, 1},
                           {"1x1_1024_14", 1024, 14, 256, 1, 1, 0},
                           {"7x7s2_stem_224", 3, 224, 64, 7, 2, 3}};

VPS_BENCH_DEVICE("conv_3x3_256_56", [](const std::vector<std::string>& a) { run_case(kCases[0], a); });
VPS_BENCH_DEVICE("conv_1x1_1024_14", [](const std::vector<std::string>& a) { run_case(kCases[1], a); });
VPS_BENCH_DEVICE("conv_7x7s2_stem_224", [](const std::vector<std::string>& a) { run_case(kCases[2], a); });

}  // namespace
}  // namespace vps::bench
