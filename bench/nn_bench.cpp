// nn op benchmarks: forward + backward of batch_norm (train), group_norm, max_pool2d and bilinear
// upsampling on x (N, C, H, W) f32. `vps_bench nn [--device cpu|cuda] [threads=1] [N C H W] [cpu|cuda]`; prints one
// "RESULT nn_<op> MS shape=..." line per op (bench/bench_nn.sh compares with bench/nn_torch.py).
#include <omp.h>

#include <functional>
#include <string>

#include "bench/bench_registry.h"
#include "layers/batch_norm.h"
#include "layers/group_norm.h"
#include "layers/interpolate.h"
#include "layers/pooling.h"

namespace {

void nn_case(const std::vector<std::string>& args) {
  int threads = args.size() > 0 ? std::stoi(args[0]) : 1;
  int64_t N = 8, C = 64, H = 64, W = 64;
  if (args.size() > 4) N = std::stoll(args[1]), C = std::stoll(args[2]), H = std::stoll(args[3]), W = std::stoll(args[4]);
  vps::Device dev = vps::bench::device_arg(args, 5);
  omp_set_num_threads(threads);
  vps::Generator g(0);
  vps::Tensor x = vps::randn({N, C, H, W}, g, vps::DType::f32, dev).set_requires_grad();
  vps::Tensor w = vps::Tensor::ones({C}, vps::DType::f32, dev).set_requires_grad();
  vps::Tensor b = vps::Tensor::zeros({C}, vps::DType::f32, dev).set_requires_grad();
  vps::Tensor rm = vps::Tensor::zeros({C}, vps::DType::f32, dev), rv = vps::Tensor::ones({C}, vps::DType::f32, dev);
  std::string shape = std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(H) + "x" + std::to_string(W);
  auto run = [&](const std::string& name, const std::function<vps::Tensor()>& f) {
    vps::Generator gd(1);
    vps::Tensor y0 = f();
    vps::Tensor dy = vps::randn(y0.shape(), gd, vps::DType::f32, dev);
    double ms = vps::bench::time_ms([&] {
      x.zero_grad();  // as the torch side (x.grad = None): time the op, not grad accumulation
      f().backward(dy);
    }, 5, 1);
    vps::bench::report("nn_" + name, ms, "shape=" + shape + " threads=" + std::to_string(threads) + " device=" + dev.str());
  };
  run("batch_norm", [&] { return vps::batch_norm(x, w, b, rm, rv, true); });
  run("group_norm", [&] { return vps::group_norm(x, 32, w, b); });
  run("max_pool2d", [&] { return vps::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}); });
  run("bilinear_x2", [&] { return vps::interpolate(x, {2 * H, 2 * W}, vps::InterpMode::bilinear, false); });
}

}  // namespace

VPS_BENCH_DEVICE("nn", nn_case);
