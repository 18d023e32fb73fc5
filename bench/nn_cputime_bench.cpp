// Load-robust comparison for a shared machine: median process CPU time (not wall time) of the nn ops
// and the ResNet-50 convolutions on ONE thread, forward and forward+backward, f32.
// `vps_bench cputime` prints "CPU <op> <fwd ms> <fwdbwd ms>"; bench/nn_cputime.sh compares with
// bench/nn_cputime_torch.py. CPU time does not count the time other processes hold the core.
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/group_norm.h"
#include "layers/interpolate.h"
#include "layers/pooling.h"

namespace vps::bench {
namespace {

double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

double median_cpu_ms(const std::function<void()>& f, int reps = 7) {
  f();
  std::vector<double> v;
  for (int i = 0; i < reps; ++i) {
    double a = cpu_ms();
    f();
    v.push_back(cpu_ms() - a);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// f() builds the output from `params` (requires_grad); times f under NoGrad and f().backward(dy).
void run(const char* name, const std::vector<Tensor>& params, const std::function<Tensor()>& f) {
  Generator gd(1);
  Tensor dy = randn(f().shape(), gd, DType::f32, kCPU);
  double fwd = median_cpu_ms([&] {
    autograd::NoGradGuard ng;
    f();
  });
  double fb = median_cpu_ms([&] {
    for (Tensor p : params) p.zero_grad();
    f().backward(dy);
  });
  std::printf("CPU %s %.3f %.3f\n", name, fwd, fb);
  std::fflush(stdout);
}

void cputime(const std::vector<std::string>&) {
  omp_set_num_threads(1);
  Generator g(0);
  int64_t C = 64, H = 64;
  Tensor x = randn({8, C, H, H}, g, DType::f32, kCPU).set_requires_grad();
  Tensor w = Tensor::ones({C}, DType::f32, kCPU).set_requires_grad();
  Tensor b = Tensor::zeros({C}, DType::f32, kCPU).set_requires_grad();
  Tensor rm = Tensor::zeros({C}, DType::f32, kCPU), rv = Tensor::ones({C}, DType::f32, kCPU);
  std::vector<Tensor> all = {x, w, b};
  run("batch_norm_train", all, [&] { return batch_norm(x, w, b, rm, rv, true); });
  run("batch_norm_eval", all, [&] { return batch_norm(x, w, b, rm, rv, false); });
  run("group_norm", all, [&] { return group_norm(x, 32, w, b); });
  run("max_pool2d", {x}, [&] { return max_pool2d(x, {3, 3}, {2, 2}, {1, 1}); });
  run("bilinear_x2", {x}, [&] { return interpolate(x, {2 * H, 2 * H}, InterpMode::bilinear, false); });
  struct Case {
    const char* name;
    int64_t C, H, O, k, s, p;
  };
  for (Case c : {Case{"conv_3x3_256_56", 256, 56, 256, 3, 1, 1}, Case{"conv_1x1_1024_14", 1024, 14, 256, 1, 1, 0},
                 Case{"conv_7x7s2_stem_224", 3, 224, 64, 7, 2, 3}}) {
    Tensor xc = randn({1, c.C, c.H, c.H}, g, DType::f32, kCPU).set_requires_grad();
    Tensor wc = randn({c.O, c.C, c.k, c.k}, g, DType::f32, kCPU).set_requires_grad();
    Tensor bc = randn({c.O}, g, DType::f32, kCPU).set_requires_grad();
    run(c.name, {xc, wc, bc}, [&] { return conv2d(xc, wc, bc, {c.s, c.s}, {c.p, c.p}); });
  }
}

VPS_BENCH("cputime", cputime);

}  // namespace
}  // namespace vps::bench
