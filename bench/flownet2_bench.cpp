// FlowNet2 inference (full width, float32, batch 1) on one 512x1024 pair: the whole network and
// FlowNetC alone. Random weights U(+-sqrt(3 / fan_in)) keep the activations at scale through the
// depth, as in bench/flownet2_torch.py (PyTorch's default init shrinks them into float32 denormals,
// which time very differently on CPUs; real weights do not).
// vps_bench flownet2 [--device cpu|cuda] [device=cpu|cuda] [threads] [reps] [H W]   prints
// "RESULT flownet2_<part> ms gflops=G"; H W (multiples of 64) replace 512x1024 (bench-smoke: a small pair).
#include <omp.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "models/flownet2/flownet2.h"
#include "ops/ops.h"

namespace vps::bench {
namespace {

// Conv2d weights (Cout, Cin, k, k): fan_in Cin k^2; ConvTranspose2d (k 4, stride 2): Cin x 2 x 2 taps.
void init_at_scale(nn::Module& m, Generator& gen) {
  autograd::NoGradGuard ng;
  for (auto& [name, p] : m.named_parameters()) {
    bool transposed = name.find("deconv") != std::string::npos || name.find("upsampled") != std::string::npos;
    double fan_in = p.dim() == 4 ? (transposed ? double(p.size(0) * 4) : double(p.size(1) * p.size(2) * p.size(3))) : 1;
    double b = p.dim() == 4 ? std::sqrt(3.0 / fan_in) : 0.1;
    p.copy_(uniform(p.shape(), -b, b, gen, p.dtype(), p.device()));
  }
}

void run(const std::vector<std::string>& args) {
  Device dev = device_arg(args, 0);
  int threads = args.size() > 1 ? std::stoi(args[1]) : omp_get_max_threads();
  int reps = args.size() > 2 ? std::stoi(args[2]) : 3;
  const int64_t H = args.size() > 4 ? std::stoll(args[3]) : 512, W = args.size() > 4 ? std::stoll(args[4]) : 1024;
  omp_set_num_threads(threads);
  Generator gen(14);
  models::FlowNet2 net;
  init_at_scale(net, gen);
  net.to(dev);
  Tensor pair = uniform({1, 3, 2, H, W}, 0, 255, gen, DType::f32, dev);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past OpenBLAS's start-up spin (docs/conv.md)
  const double px = double(H * W) / (1024.0 * 2048.0);
  const double gmac = 1061.0 * px;  // spec A.5: 1061 GMAC at 1024x2048, linear in the pixels
  double t = time_ms([&] { net.forward(pair); }, reps, 1);
  report("flownet2_full", t, "gflops=" + std::to_string(2 * gmac / t * 1e3));
  Tensor x = mul(flatten(permute(pair, {0, 2, 1, 3, 4}), 1, 2), 1.0 / 255);  // (1, 6, H, W) stand-in for the normalised pair
  t = time_ms([&] {
    autograd::NoGradGuard ng;
    net.flownetc->forward(x);
  }, reps, 1);
  report("flownet2_flownetc", t, "gflops=" + std::to_string(2 * 242.4 * px / t * 1e3));
}

VPS_BENCH_DEVICE("flownet2", run);

}  // namespace
}  // namespace vps::bench
