#include "train/distributed.h"

#include <algorithm>
#include <cstdlib>

#include "autograd/grad_mode.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::train {

namespace {

int env_int(const std::function<const char*(const char*)>& getenv, const char* name, int fallback) {
  const char* v = getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  VPS_CHECK(*end == 0 && x >= 0 && x < (1L << 24), "launcher variable ", name, "='", v, "' is not a rank or a count");
  return int(x);
}

// One process: rank 0 of 1.
class SingleProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "none"; }
  void allreduce_sum(Tensor&) override {}
  void broadcast(Tensor&, int) override {}
  void barrier(const std::string&) override {}
};

// Consecutive runs of tensors with one dtype and device, each run at most `bucket_bytes` (a tensor
// larger than that is a bucket of its own).
std::vector<std::pair<size_t, size_t>> buckets(const std::vector<Tensor>& ts, size_t bucket_bytes) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = 0, bytes = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    VPS_CHECK(ts[i].defined(), "collective: tensor ", i, " of ", ts.size(), " is undefined");
    bool same = i > start && ts[i].dtype() == ts[start].dtype() && ts[i].device() == ts[start].device();
    if (i > start && (!same || bytes + ts[i].nbytes() > bucket_bytes)) {
      out.emplace_back(start, i);
      start = i, bytes = 0;
    }
    bytes += ts[i].nbytes();
  }
  if (start < ts.size()) out.emplace_back(start, ts.size());
  return out;
}

Tensor pack(const std::vector<Tensor>& ts, size_t b, size_t e) {
  int64_t n = 0;
  for (size_t i = b; i < e; ++i) n += ts[i].numel();
  Tensor flat = Tensor::empty({n}, ts[b].dtype(), ts[b].device());
  int64_t off = 0;
  for (size_t i = b; i < e; ++i) {
    flat.slice(0, off, off + ts[i].numel()).copy_(ts[i].reshape({ts[i].numel()}));
    off += ts[i].numel();
  }
  return flat;
}

void unpack(const Tensor& flat, const std::vector<Tensor>& ts, size_t b, size_t e, double scale) {
  int64_t off = 0;
  for (size_t i = b; i < e; ++i) {
    Tensor part = flat.slice(0, off, off + ts[i].numel()).view(ts[i].shape()), dst = ts[i];
    dst.copy_(scale == 1 ? part : mul(part, scale));
    off += ts[i].numel();
  }
}

}  // namespace

LaunchInfo launch_info(const std::function<const char*(const char*)>& getenv) {
  LaunchInfo li;
  auto from = [&](const char* launcher, const char* rank, const char* size, const char* local, const char* local_size) {
    if (!getenv(rank) || !getenv(size)) return false;
    li.launcher = launcher;
    li.rank = env_int(getenv, rank, 0);
    li.world = env_int(getenv, size, 1);
    li.local_rank = env_int(getenv, local, 0);
    li.local_world = std::max(1, std::min(li.world, env_int(getenv, local_size, 1)));
    VPS_CHECK(li.world >= 1 && li.rank < li.world, launcher, ": rank ", li.rank, " is not below the world size ", li.world,
              " (", rank, ", ", size, ")");
    return true;
  };
  // Open MPI's mpirun, then MPICH/Hydra, then a Slurm job step (SLURM_STEP_NUM_TASKS: inside an
  // sbatch script without srun SLURM_NTASKS is set too, but there is one process), then torchrun.
  if (from("mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
           "OMPI_COMM_WORLD_LOCAL_SIZE"))
    return li;
  if (from("mpirun", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS")) return li;
  if (from("srun", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE")) return li;
  if (from("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")) return li;
  return LaunchInfo{};
}

int default_threads(const LaunchInfo& launch, int cores) {
  return std::max(1, cores / std::max(1, launch.local_world));
}

bool built_with_mpi() { return VPS_MPI != 0; }
bool built_with_nccl() { return VPS_NCCL != 0; }

std::unique_ptr<Communicator> make_communicator(const std::string& backend, const LaunchInfo& launch,
                                                double timeout_s) {
  VPS_CHECK(timeout_s > 0, "distributed: the collective timeout must be positive, not ", timeout_s);
  // torchrun's rendezvous needs a TCP key-value store (MASTER_ADDR:MASTER_PORT) that vps does not have
  VPS_CHECK(launch.launcher != "torchrun" || launch.world == 1,
            "distributed: started by torchrun (RANK/WORLD_SIZE) with ", launch.world,
            " ranks: vps has no TCP rendezvous; launch with mpirun or srun instead (docs/distributed.md)");
  if (backend == "none") {
    VPS_CHECK(launch.world == 1, "distributed: backend none in a job of ", launch.world, " ranks (started by ",
              launch.launcher, "); use --distributed mpi");
    return std::make_unique<SingleProcess>();
  }
  if (backend == "mpi") {
    VPS_CHECK(built_with_mpi(), "distributed: this vps was built without MPI (MPI=0, or Open MPI's development "
              "package libopenmpi-dev was missing at build time: `scripts/deps.sh mpi` as root, then make)");
    return detail::make_mpi(launch, timeout_s);
  }
  if (backend == "nccl") {
    VPS_CHECK(built_with_nccl(), "distributed: this vps was built without NCCL (it needs CUDA=1 and MPI=1: nvcc, "
              "nccl.h and Open MPI's libopenmpi-dev at build time)");
    return detail::make_nccl(launch, timeout_s);
  }
  VPS_FAIL("distributed: unknown backend '", backend, "' (none, mpi, nccl)");
}

void allreduce_scaled(Communicator& c, const std::vector<Tensor>& tensors, double scale, size_t bucket_bytes) {
  autograd::NoGradGuard ng;
  for (auto [b, e] : buckets(tensors, bucket_bytes)) {
    if (c.size() == 1) {  // nothing to sum: scale in place
      for (size_t i = b; i < e && scale != 1; ++i) {
        Tensor t = tensors[i];
        t.copy_(mul(t, scale));
      }
      continue;
    }
    VPS_CHECK(tensors[b].dtype() == DType::f32 || tensors[b].dtype() == DType::f64, "allreduce: tensor ", b, " is ",
              tensors[b].str(), "; only float32 and float64 are summed");
    Tensor flat = pack(tensors, b, e);
    c.allreduce_sum(flat);
    unpack(flat, tensors, b, e, scale);
  }
}

void broadcast_tensors(Communicator& c, const std::vector<Tensor>& tensors, int root, size_t bucket_bytes) {
  if (c.size() == 1) return;
  autograd::NoGradGuard ng;
  for (auto [b, e] : buckets(tensors, bucket_bytes)) {
    Tensor flat = pack(tensors, b, e);
    c.broadcast(flat, root);
    unpack(flat, tensors, b, e, 1);
  }
}

}  // namespace vps::train
