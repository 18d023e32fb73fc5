// Data-parallel collectives (docs/distributed.md): a communicator over the ranks of one job, with
// three backends behind one interface:
//   none  one process (rank 0 of 1): every collective is a no-op;
//   mpi   Open MPI, CPU tensors; ranks started by mpirun or srun;
//   nccl  NCCL, CUDA tensors; bootstrapped over MPI (rank 0's unique id broadcast to the others).
// Every collective waits at most `timeout_s`: a rank that died or hangs makes the others fail with an
// error naming it (barrier) or the collective (allreduce, broadcast) instead of waiting forever, and
// MPI's default abort-everything error handler is replaced by errors returned to us.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace vps::train {

// Where this process sits in its job, as the launcher told it. The environment is read by the command
// (tools/), which passes its getenv here; nothing below the command reads it.
struct LaunchInfo {
  int rank = 0, world = 1, local_rank = 0;
  int local_world = 1;   // ranks on this machine (1 when the launcher does not say)
  std::string launcher;  // "mpirun", "srun", "torchrun" or "" (a single process)
};
LaunchInfo launch_info(const std::function<const char*(const char*)>& getenv);

// The default CPU thread count of one process: the machine's cores divided among the ranks the launcher
// put on this machine (at least 1). Two processes that each spin a thread per core on the same cores
// ran 10-70x slower than one after the other (OpenMP's waiting threads spin).
int default_threads(const LaunchInfo& launch, int cores);

constexpr size_t kDefaultBucketBytes = size_t(25) << 20;  // as PyTorch DDP's bucket_cap_mb

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;
  // Sums a contiguous f32 or f64 tensor over all ranks, in place (on the backend's device).
  virtual void allreduce_sum(Tensor& flat) = 0;
  // Copies root's contiguous tensor into every rank's, in place.
  virtual void broadcast(Tensor& flat, int root) = 0;
  // Returns once every rank has called it with the same `what`; a rank missing after the timeout is
  // named in the error ("rank 1 did not reach <what> within 30 s").
  virtual void barrier(const std::string& what) = 0;
};

// backend: "none", "mpi" or "nccl". A backend this build lacks (MPI=0, or no CUDA for NCCL) is an error
// naming the package to install; `launch` must agree with what MPI reports.
std::unique_ptr<Communicator> make_communicator(const std::string& backend, const LaunchInfo& launch,
                                                double timeout_s);

// Sums `tensors` over all ranks and multiplies them by `scale` (1 / size: the average), in place.
// Tensors are packed into flat buffers of at most bucket_bytes (one per run of equal dtype and device),
// so a model's hundreds of gradients take a few collectives.
void allreduce_scaled(Communicator& c, const std::vector<Tensor>& tensors, double scale,
                      size_t bucket_bytes = kDefaultBucketBytes);
// Root's values into every rank's `tensors` (same shapes and dtypes everywhere), bucketed likewise.
void broadcast_tensors(Communicator& c, const std::vector<Tensor>& tensors, int root = 0,
                       size_t bucket_bytes = kDefaultBucketBytes);

// The backends of this build, for messages and `vps train --help`.
bool built_with_mpi();
bool built_with_nccl();

namespace detail {
std::unique_ptr<Communicator> make_mpi(const LaunchInfo& launch, double timeout_s);
std::unique_ptr<Communicator> make_nccl(const LaunchInfo& launch, double timeout_s);
}  // namespace detail

}  // namespace vps::train
