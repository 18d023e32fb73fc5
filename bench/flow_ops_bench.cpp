// FlowNet2's custom ops at the shapes of a 512x1024 pair, batch 1, float32: the correlation of
// FlowNetC (f1, f2 of 256 x 64 x 128, FlowNet2's parameters: 441 channels) and resample2d on the
// image (3 x 512 x 1024) and on logits (19 x 128 x 256), flows uniform +-8 px; forward and
// forward+backward (gradients of both inputs).
// vps_bench flow_ops_ [--device cpu|cuda] [device=cpu|cuda] [threads] [reps]   prints
// "RESULT flow_ops_<case>_<pass> ms".
#include <omp.h>

#include <string>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "layers/flow_ops.h"
#include "ops/ops.h"

namespace vps::bench {
namespace {

struct Setup {
  Device dev;
  int reps;
  std::function<void()> sync;
};
Setup setup(const std::vector<std::string>& args) {
  Device dev = device_arg(args, 0);
  omp_set_num_threads(args.size() > 1 ? std::stoi(args[1]) : omp_get_max_threads());
  int reps = args.size() > 2 ? std::stoi(args[2]) : 3;
  return {dev, reps, sync_device};
}

// Times f(a, b) without grad, then f(a, b).backward(gy) with both inputs requiring grad.
template <class F>
void time_pair(const std::string& name, const Setup& s, const Tensor& a, const Tensor& b, const Tensor& gy, const F& f) {
  double t = time_ms([&] {
    autograd::NoGradGuard ng;
    f(a, b);
  }, s.reps, 1, s.sync);
  report(name + "_fwd", t);
  Tensor ag = a.detach().set_requires_grad(), bg = b.detach().set_requires_grad();
  t = time_ms([&] {
    ag.zero_grad(), bg.zero_grad();
    f(ag, bg).backward(gy);
  }, s.reps, 1, s.sync);
  report(name + "_fwdbwd", t);
}

void bench_correlation(const std::vector<std::string>& args) {
  Setup s = setup(args);
  Generator gen(11);
  Tensor f1 = randn({1, 256, 64, 128}, gen, DType::f32, s.dev), f2 = randn({1, 256, 64, 128}, gen, DType::f32, s.dev);
  Tensor gy = randn({1, 441, 64, 128}, gen, DType::f32, s.dev);
  time_pair("flow_ops_corr_flownet2", s, f1, f2, gy, [](const Tensor& a, const Tensor& b) { return correlation(a, b); });
}

void bench_resample(const char* name, int64_t C, int64_t H, int64_t W, const std::vector<std::string>& args) {
  Setup s = setup(args);
  Generator gen(12);
  Tensor img = randn({1, C, H, W}, gen, DType::f32, s.dev), flow = uniform({1, 2, H, W}, -8, 8, gen, DType::f32, s.dev);
  Tensor gy = randn({1, C, H, W}, gen, DType::f32, s.dev);
  time_pair(std::string("flow_ops_") + name, s, img, flow, gy,
            [](const Tensor& a, const Tensor& b) { return resample2d(a, b); });
}

VPS_BENCH_DEVICE("flow_ops_corr_flownet2", bench_correlation);
VPS_BENCH_DEVICE("flow_ops_resample_c3_512x1024",
          [](const std::vector<std::string>& a) { bench_resample("resample_c3_512x1024", 3, 512, 1024, a); });
VPS_BENCH_DEVICE("flow_ops_resample_c19_128x256",
          [](const std::vector<std::string>& a) { bench_resample("resample_c19_128x256", 19, 128, 256, a); });

}  // namespace
}  // namespace vps::bench
