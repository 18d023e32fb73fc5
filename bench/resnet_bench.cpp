// ResNet-50 trunk (conv1 .. layer4, i.e. C2..C5) forward timings, eval mode, batch 1, no autograd
// (bench/bench_resnet.sh compares them with torchvision's resnet50 on the same threads):
//   vps_bench resnet50_plain H W    plain conv + BN
//   vps_bench resnet50_folded H W   BN folded into the convolutions (the inference path of --fold-bn)
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "bench/bench_registry.h"
#include "models/backbone/resnet.h"
#include "tensor/tensor.h"

namespace {

using namespace vps;
using namespace vps::models;

void run(const std::vector<std::string>& args, bool fold) {
  int64_t h = args.size() > 0 ? std::stoll(args[0]) : 224, w = args.size() > 1 ? std::stoll(args[1]) : 224;
  models::ResNet net{models::ResNetOptions{}};
  net.eval();
  if (fold) net.fold_batch_norm();
  Generator gen(7);
  Tensor x = randn({1, 3, h, w}, gen);
  autograd::NoGradGuard ng;
  int reps = h * w > 300000 ? 3 : 7;
  double ms = bench::time_ms([&] { net.forward(x); }, reps, 1);
  bench::report(fold ? "resnet50_folded" : "resnet50_plain", ms, std::to_string(h) + "x" + std::to_string(w));
}

VPS_BENCH("resnet50_plain", [](const std::vector<std::string>& a) { run(a, false); });
VPS_BENCH("resnet50_folded", [](const std::vector<std::string>& a) { run(a, true); });

}  // namespace
