// Deformable convolution at the semantic head's shapes (P2 of a 1024x2048 frame: 256x512), batch 1,
// float32, offsets uniform +-2: forward and forward+backward (grads of x, offset, w), and our plain
// 3x3 conv2d of the same shape for reference.
// vps_bench dcn_ [--device cpu|cuda] [device=cpu|cuda] [threads] [reps] [H W]   prints
// "RESULT dcn_<case>_<pass> ms gflops=G"; H W replace the 256x512 map (bench-smoke: a small one).
#include <omp.h>

#include <chrono>
#include <string>
#include <thread>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "layers/conv2d.h"
#include "layers/deform_conv2d.h"
#include "ops/ops.h"

namespace vps::bench {
namespace {

struct DcnCase {
  const char* name;
  int64_t C, O, H, W;
};

void run_case(DcnCase c, const std::vector<std::string>& args) {
  Device dev = device_arg(args, 0);
  int threads = args.size() > 1 ? std::stoi(args[1]) : omp_get_max_threads();
  int reps = args.size() > 2 ? std::stoi(args[2]) : 3;
  if (args.size() > 4) c.H = std::stoll(args[3]), c.W = std::stoll(args[4]);
  omp_set_num_threads(threads);
  Generator gen(11);
  Tensor x = randn({1, c.C, c.H, c.W}, gen, DType::f32, dev);
  Tensor w = mul(randn({c.O, c.C, 3, 3}, gen, DType::f32, dev), 0.02);
  Tensor off = uniform({1, 18, c.H, c.W}, -2, 2, gen, DType::f32, dev);
  Tensor gy = randn({1, c.O, c.H, c.W}, gen, DType::f32, dev);
  DeformConvParams p;
  p.padding = {1, 1};
  double flops = 2.0 * double(c.O) * double(c.H * c.W) * double(c.C * 9);
  Tensor xg = x.detach().set_requires_grad(), og = off.detach().set_requires_grad(), wg = w.detach().set_requires_grad();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past OpenBLAS's start-up spin (docs/conv.md)
  std::string base = std::string("dcn_") + c.name;
  auto gf = [&](double ms, double mult) { return "gflops=" + std::to_string(mult * flops / ms / 1e6); };
  double t = time_ms([&] {
    autograd::NoGradGuard ng;
    deform_conv2d(x, off, w, p);
  }, reps, 1);
  report(base + "_fwd", t, gf(t, 1));
  t = time_ms([&] {
    xg.zero_grad(), og.zero_grad(), wg.zero_grad();
    deform_conv2d(xg, og, wg, p).backward(gy);
  }, reps, 1);
  report(base + "_fwdbwd", t, gf(t, 3));
  t = time_ms([&] {
    autograd::NoGradGuard ng;
    conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  }, reps, 1);
  report(base + "_conv_fwd", t, gf(t, 1));
  t = time_ms([&] {
    xg.zero_grad(), wg.zero_grad();
    conv2d(xg, wg, Tensor(), {1, 1}, {1, 1}).backward(gy);
  }, reps, 1);
  report(base + "_conv_fwdbwd", t, gf(t, 3));
}

const DcnCase kCases[] = {{"p2_256", 256, 256, 256, 512}, {"p2_128", 128, 128, 256, 512}};
VPS_BENCH_DEVICE("dcn_p2_256", [](const std::vector<std::string>& a) { run_case(kCases[0], a); });
VPS_BENCH_DEVICE("dcn_p2_128", [](const std::vector<std::string>& a) { run_case(kCases[1], a); });

}  // namespace
}  // namespace vps::bench
