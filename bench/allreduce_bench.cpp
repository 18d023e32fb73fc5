// Gradient averaging over MPI at the size of a ResNet-50-FPN (the backbone's convolutions and frozen-BN
// affine parameters, the FPN's lateral and output convolutions: 26.85M float32 in 175 tensors),
// bucketed as the trainer does (train/distributed.h, 25 MiB buckets). Run under mpirun:
//   mpirun -np 2 vps_bench allreduce [reps] [bucket_mib]
// prints (rank 0) "RESULT allreduce_r50fpn ms params=N ranks=R gbps=G" (algorithm bandwidth: bytes / time).
#include <cstdlib>
#include <cstdio>

#include "bench/bench_registry.h"
#include "train/distributed.h"

namespace vps::bench {
namespace {

// The parameter sizes of a ResNet-50 + FPN, in order (bench/allreduce_torch.py builds the same list).
std::vector<int64_t> r50_fpn_sizes() {
  std::vector<int64_t> s = {64 * 3 * 49, 64, 64};
  int64_t in = 64;
  const int64_t stages[4][2] = {{64, 3}, {128, 4}, {256, 6}, {512, 3}};
  for (auto [c, n] : stages)
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t v : {c * in, c, c, c * c * 9, c, c, 4 * c * c, 4 * c, 4 * c}) s.push_back(v);
      if (b == 0)
        for (int64_t v : {4 * c * in, 4 * c, 4 * c}) s.push_back(v);
      in = 4 * c;
    }
  for (int64_t cin : {int64_t(256), int64_t(512), int64_t(1024), int64_t(2048)})
    for (int64_t v : {256 * cin, int64_t(256), int64_t(256 * 256 * 9), int64_t(256)}) s.push_back(v);
  return s;
}

void allreduce_bench(const std::vector<std::string>& args) {
  int reps = args.size() > 0 ? std::stoi(args[0]) : 5;
  size_t bucket = size_t(args.size() > 1 ? std::stoi(args[1]) : 25) << 20;
  auto launch = train::launch_info([](const char* n) { return std::getenv(n); });
  auto comm = train::make_communicator(launch.world > 1 ? "mpi" : "none", launch, 600);
  std::vector<Tensor> grads;
  int64_t n = 0;
  for (int64_t s : r50_fpn_sizes()) {
    grads.push_back(Tensor::full({s}, double(comm->rank() + 1)));
    n += s;
  }
  double ms = time_ms([&] { train::allreduce_scaled(*comm, grads, 1.0 / comm->size(), bucket); }, reps, 1,
                      [&] { comm->barrier("the next repetition"); });
  if (comm->rank() != 0) return;
  char extra[160];
  std::snprintf(extra, sizeof extra, "params=%lld tensors=%zu ranks=%d gbps=%.2f", (long long)n, grads.size(),
                comm->size(), double(n) * 4 / (ms * 1e6));
  report("allreduce_r50fpn", ms, extra);
}

VPS_BENCH("allreduce", allreduce_bench);

}  // namespace
}  // namespace vps::bench
