// The MPI backend of train/distributed.h: non-blocking collectives polled against a deadline, so that a
// dead or hung rank becomes an error on the others instead of a job that waits forever.
#include "train/distributed.h"

#include <chrono>
#include <thread>

#include "tensor/check.h"

#if VPS_MPI
#include <mpi.h>
#endif

namespace vps::train::detail {

#if VPS_MPI

namespace {

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(const LaunchInfo& launch, double timeout_s) : timeout_s_(timeout_s) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    }
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    // errors come back to us as codes (the default handler would abort every rank without a word)
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    VPS_CHECK(launch.world == 1 || (launch.world == size_ && launch.rank == rank_), "MPI: ", launch.launcher,
              " announced rank ", launch.rank, " of ", launch.world, " but MPI_COMM_WORLD has rank ", rank_, " of ", size_);
  }
  ~MpiCommunicator() override {
    if (failed_) return;  // a peer may be dead or hung: finalizing could wait for it; mpirun ends the job
    MPI_Comm_free(&comm_);
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void allreduce_sum(Tensor& flat) override {
    check_cpu(flat, "allreduce");
    VPS_CHECK(flat.numel() < (int64_t(1) << 31), "MPI allreduce: ", flat.numel(), " elements in one bucket");
    MPI_Datatype t = flat.dtype() == DType::f64 ? MPI_DOUBLE : MPI_FLOAT;
    VPS_CHECK(flat.dtype() == DType::f64 || flat.dtype() == DType::f32, "MPI allreduce: ", flat.str());
    MPI_Request req;
    check(MPI_Iallreduce(MPI_IN_PLACE, flat.raw_data(), int(flat.numel()), t, MPI_SUM, comm_, &req), "MPI_Iallreduce");
    wait({&req}, "an allreduce of " + std::to_string(flat.nbytes()) + " bytes");
  }

  void broadcast(Tensor& flat, int root) override {
    check_cpu(flat, "broadcast");
    VPS_CHECK(flat.nbytes() < (size_t(1) << 31), "MPI broadcast: ", flat.nbytes(), " bytes in one bucket");
    MPI_Request req;
    check(MPI_Ibcast(flat.raw_data(), int(flat.nbytes()), MPI_BYTE, root, comm_, &req), "MPI_Ibcast");
    wait({&req}, "a broadcast from rank " + std::to_string(root));
  }

  // Every rank sends a token (the barrier's sequence number) to every other and waits for theirs: the
  // tokens that did not come name the missing ranks. O(size) messages per rank: meant for once a step.
  void barrier(const std::string& what) override {
    ++seq_;
    const int tag = int(seq_ % 30000) + 1;
    std::vector<long long> got(size_t(size_), -1);
    std::vector<MPI_Request> recv, send;
    std::vector<int> peer;
    for (int p = 0; p < size_; ++p) {
      if (p == rank_) continue;
      recv.emplace_back(), send.emplace_back(), peer.push_back(p);
      check(MPI_Irecv(&got[size_t(p)], 1, MPI_LONG_LONG, p, tag, comm_, &recv.back()), "MPI_Irecv");
      check(MPI_Isend(&seq_, 1, MPI_LONG_LONG, p, tag, comm_, &send.back()), "MPI_Isend");
    }
    std::vector<MPI_Request*> all;
    for (auto& r : recv) all.push_back(&r);
    for (auto& r : send) all.push_back(&r);
    if (!poll(all)) {
      std::string missing;
      for (size_t i = 0; i < peer.size(); ++i)
        if (recv[i] != MPI_REQUEST_NULL) missing += (missing.empty() ? "" : ", ") + std::to_string(peer[i]);
      fail(str_cat("rank ", missing.empty() ? std::string("?") : missing, " did not reach ", what, " within ",
                   timeout_s_, " s (it died or hangs)"));
    }
    for (int p : peer)
      VPS_CHECK(got[size_t(p)] == seq_, "MPI rank ", rank_, ": rank ", p, " is at barrier ", got[size_t(p)],
                ", this rank at ", seq_, " (", what, "): the ranks run different code paths");
  }

 private:
  static void check(int rc, const char* call) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    VPS_FAIL("MPI: ", call, " failed: ", std::string(msg, size_t(len)));
  }
  void check_cpu(const Tensor& t, const char* op) const {
    VPS_CHECK(t.device().is_cpu() && t.is_contiguous(), "MPI ", op, ": needs a contiguous CPU tensor, got ", t.str(),
              " (GPU tensors: --distributed nccl)");
  }
  [[noreturn]] void fail(const std::string& why) {
    failed_ = true;
    VPS_FAIL("MPI rank ", rank_, " of ", size_, ": ", why, "; stopping");
  }
  // MPI_Test on every request until all are complete (true) or the deadline passed (false). Open MPI
  // progresses a non-blocking collective only inside MPI calls, so the loop spins first, then yields.
  bool poll(const std::vector<MPI_Request*>& reqs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
    for (int spins = 0;; ++spins) {
      bool all = true;
      for (MPI_Request* r : reqs) {
        if (*r == MPI_REQUEST_NULL) continue;
        int done = 0;
        int rc = MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
          failed_ = true;
          check(rc, "MPI_Test");
        }
        all = all && done;
      }
      if (all) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (spins > 10000) std::this_thread::yield();
    }
  }
  void wait(const std::vector<MPI_Request*>& reqs, const std::string& what) {
    if (!poll(reqs)) fail(what + " did not complete within " + str_cat(timeout_s_) + " s (a rank died or hangs)");
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  double timeout_s_;
  long long seq_ = 0;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi(const LaunchInfo& launch, double timeout_s) {
  return std::make_unique<MpiCommunicator>(launch, timeout_s);
}

#else

std::unique_ptr<Communicator> make_mpi(const LaunchInfo&, double) {
  VPS_FAIL("distributed: built without MPI (libopenmpi-dev missing at build time)");
}

#endif

}  // namespace vps::train::detail
