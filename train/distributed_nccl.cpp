// The NCCL backend of train/distributed.h: sums and broadcasts of CUDA tensors with NCCL on a stream of
// its own, polled against the deadline (a peer that died leaves the stream busy: the communicator is
// aborted and the error names the collective). MPI bootstraps it (rank 0's ncclUniqueId is broadcast)
// and carries the barriers. One GPU per rank: cuda:(local rank mod the GPUs visible).
#include "train/distributed.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "tensor/check.h"

#if VPS_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#endif

namespace vps::train::detail {

#if VPS_NCCL

namespace {

void check_cuda(cudaError_t e, const char* call) {
  VPS_CHECK(e == cudaSuccess, "NCCL backend: ", call, " failed: ", cudaGetErrorString(e));
}

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(const LaunchInfo& launch, double timeout_s) : mpi_(make_mpi(launch, timeout_s)), timeout_s_(timeout_s) {
    int devices = 0;
    check_cuda(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    VPS_CHECK(devices > 0, "NCCL backend: rank ", mpi_->rank(), " sees no CUDA device");
    device_ = launch.local_rank % devices;
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    check_cuda(cudaStreamCreate(&stream_), "cudaStreamCreate");  // synchronises with the legacy default stream
    ncclUniqueId id;
    if (mpi_->rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    Tensor bytes = Tensor::from_vector(std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&id),
                                                            reinterpret_cast<uint8_t*>(&id) + sizeof id),
                                       {int64_t(sizeof id)});
    mpi_->broadcast(bytes, 0);
    std::memcpy(&id, bytes.raw_data(), sizeof id);
    check(ncclCommInitRank(&comm_, mpi_->size(), id, mpi_->rank()), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_) failed_ ? ncclCommAbort(comm_) : ncclCommDestroy(comm_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  std::string backend() const override { return "nccl"; }

  void allreduce_sum(Tensor& flat) override {
    check_tensor(flat, "allreduce");
    ncclDataType_t t = flat.dtype() == DType::f64 ? ncclDouble : ncclFloat;
    VPS_CHECK(flat.dtype() == DType::f64 || flat.dtype() == DType::f32, "NCCL allreduce: ", flat.str());
    check(ncclAllReduce(flat.raw_data(), flat.raw_data(), size_t(flat.numel()), t, ncclSum, comm_, stream_), "ncclAllReduce");
    wait("an allreduce of " + std::to_string(flat.nbytes()) + " bytes");
  }
  void broadcast(Tensor& flat, int root) override {
    check_tensor(flat, "broadcast");
    check(ncclBroadcast(flat.raw_data(), flat.raw_data(), flat.nbytes(), ncclUint8, root, comm_, stream_), "ncclBroadcast");
    wait("a broadcast from rank " + std::to_string(root));
  }
  void barrier(const std::string& what) override { mpi_->barrier(what); }

 private:
  void check(ncclResult_t r, const char* call) {
    if (r == ncclSuccess || r == ncclInProgress) return;
    failed_ = true;
    VPS_FAIL("NCCL rank ", rank(), ": ", call, " failed: ", ncclGetErrorString(r));
  }
  void check_tensor(const Tensor& t, const char* op) const {
    VPS_CHECK(t.device().is_cuda() && t.device().index == device_ && t.is_contiguous(), "NCCL ", op,
              ": needs a contiguous tensor on cuda:", device_, ", got ", t.str(), " (CPU tensors: --distributed mpi)");
  }
  void wait(const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
    while (true) {
      cudaError_t e = cudaStreamQuery(stream_);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) check_cuda(e, "cudaStreamQuery");
      ncclResult_t async = ncclSuccess;
      check(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
      check(async, "a collective (asynchronous error)");
      if (std::chrono::steady_clock::now() > deadline) {
        failed_ = true;
        VPS_FAIL("NCCL rank ", rank(), " of ", size(), ": ", what, " did not complete within ", timeout_s_,
                 " s (a rank died or hangs); stopping");
      }
      std::this_thread::yield();
    }
  }

  std::unique_ptr<Communicator> mpi_;
  double timeout_s_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl(const LaunchInfo& launch, double timeout_s) {
  return std::make_unique<NcclCommunicator>(launch, timeout_s);
}

#else

std::unique_ptr<Communicator> make_nccl(const LaunchInfo&, double) {
  VPS_FAIL("distributed: built without NCCL (needs CUDA=1 and MPI=1)");
}

#endif

}  // namespace vps::train::detail
