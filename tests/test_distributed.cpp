// Data-parallel training (train/distributed.h, docs/distributed.md): `mpirun -np 2 vps train` ends with
// the parameters of one process accumulating the same two samples per step; a rank that hangs
// (SIGSTOP) is named by the other within the timeout, one that dies (SIGKILL) ends the job; the last
// checkpoint then resumes. The launcher variables, the backends this build lacks and bucketing.
// The mpirun tests skip with a message where Open MPI is absent (scripts/deps.sh mpi installs it).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "infer/pan_export.h"
#include "models/registry.h"
#include "models/weights_io.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/tensor_io.h"
#include "tests/cli_runner.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"
#include "train/distributed.h"
#include "train/event_file.h"

extern char** environ;

using vps::test::vps_cli;
using namespace vps;

namespace {

using vps::test::has;
using vps::test::lines_of;
using vps::test::self_exe;
using vps::test::text_of;


struct OneThread {  // bit-comparable runs: no thread-count-dependent reduction order
  int prev = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(prev); }
};

std::string skip_reason() {
  if (!train::built_with_mpi()) return "built without MPI (MPI=0 or libopenmpi-dev missing: scripts/deps.sh mpi)";
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) return "mpirun not found (scripts/deps.sh mpi installs Open MPI)";
  return "";
}

// `mpirun -np 2` of this test binary's DistributedChild.DISABLED_Train, which runs `vps train` with the
// arguments in DIR/args.txt; output to DIR/mpirun.log. Returns mpirun's pid.
pid_t spawn_mpirun(const std::string& dir, const std::vector<std::string>& train_args) {
  std::string args;
  for (const auto& a : train_args) args += a + "\n";
  data::write_file_atomic(dir + "/args.txt", args);
  std::string exe = self_exe();  // mpirun's daemon starts it by path
  EXPECT_FALSE(exe.empty());
  // as root mpirun needs --allow-run-as-root; on 2 cores two ranks need --oversubscribe
  std::string cmd = "exec mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 -x VPS_TEST_CHILD_DIR=" + dir +
                    " " + exe + " --gtest_filter=DistributedChild.DISABLED_Train --gtest_also_run_disabled_tests >" +
                    dir + "/mpirun.log 2>&1";
  std::vector<std::string> argv_s = {"/bin/sh", "-c", cmd};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

// Exit status of pid, or -1 when it is still running after `seconds` (then it is killed).
int wait_for(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class Distributed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto r = vps_cli({"synth", "--out", *dir_ / "data", "--splits", "train", "--videos", "2", "--frames", "8",
                      "--label-every", "2", "--width", "96", "--height", "64"});
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::vector<std::string> train_args(const std::string& run, std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--config", "configs/train_vpsnet_tiny.json", "--data", *dir_ / "data", "--out",
                                  *dir_ / run, "log_every=100", "schedule.warmup_iters=2"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static test::TempDir* dir_;
};
test::TempDir* Distributed::dir_ = nullptr;

}  // namespace

// A rank of the mpirun tests: writes its pid to DIR/rank<r>.pid, runs `vps train` in-process with the
// arguments of DIR/args.txt, prints its errors and exits with its code (no MPI_Finalize after a failure).
TEST(DistributedChild, DISABLED_Train) {
  const char* dir = std::getenv("VPS_TEST_CHILD_DIR");
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  ASSERT_TRUE(dir && rank);
  data::write_file_atomic(std::string(dir) + "/rank" + rank + ".pid", std::to_string(getpid()));
  OneThread one;
  auto r = vps_cli(lines_of(std::string(dir) + "/args.txt"));
  std::fprintf(stderr, "%s", r.err.c_str());
  std::fflush(stderr);
  std::_Exit(r.rc);
}

TEST(DistributedLaunch, RanksFromTheLauncherVariables) {
  auto from = [](std::map<std::string, std::string> env) {
    return train::launch_info([env](const char* n) -> const char* {
      auto it = env.find(n);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  train::LaunchInfo li = from({});
  EXPECT_EQ(li.world, 1);
  EXPECT_EQ(li.launcher, "");
  li = from({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}});
  EXPECT_EQ(li.launcher, "mpirun");
  EXPECT_EQ(li.rank, 1);
  EXPECT_EQ(li.world, 4);
  EXPECT_EQ(li.local_rank, 1);
  // inside an sbatch script (no srun) SLURM_NTASKS is set, but this is one process
  EXPECT_EQ(from({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}}).world, 1);
  li = from({{"SLURM_PROCID", "5"}, {"SLURM_STEP_NUM_TASKS", "8"}, {"SLURM_LOCALID", "1"}});
  EXPECT_EQ(li.launcher, "srun");
  EXPECT_EQ(li.rank, 5);
  EXPECT_EQ(li.local_rank, 1);
  li = from({{"RANK", "0"}, {"WORLD_SIZE", "2"}});
  EXPECT_EQ(li.launcher, "torchrun");
  vps::testing::expect_error([&] { train::make_communicator("mpi", li, 10); }, {"mpirun or srun"});
  vps::testing::expect_error([&] { from({{"OMPI_COMM_WORLD_RANK", "4"}, {"OMPI_COMM_WORLD_SIZE", "4"}}); }, {"not below the world size 4"});
  vps::testing::expect_error([&] { from({{"OMPI_COMM_WORLD_RANK", "x"}, {"OMPI_COMM_WORLD_SIZE", "4"}}); }, {"OMPI_COMM_WORLD_RANK='x'"});
  li = from({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"}});
  vps::testing::expect_error([&] { train::make_communicator("none", li, 10); }, {"--distributed mpi"});
  vps::testing::expect_error([&] { train::make_communicator("gloo", train::LaunchInfo{}, 10); }, {"unknown backend 'gloo'"});
  if (!train::built_with_nccl()) vps::testing::expect_error([&] { train::make_communicator("nccl", train::LaunchInfo{}, 10); }, {"without NCCL"});
  if (!train::built_with_mpi()) vps::testing::expect_error([&] { train::make_communicator("mpi", train::LaunchInfo{}, 10); }, {"libopenmpi-dev"});
}

// The default thread count divides the machine's cores among the launcher's ranks on this machine.
TEST(DistributedLaunch, DefaultThreadsDivideTheCoresAmongLocalRanks) {
  auto from = [](std::map<std::string, std::string> env) {
    return train::launch_info([env](const char* n) -> const char* {
      auto it = env.find(n);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  EXPECT_EQ(train::default_threads(from({}), 16), 16);
  train::LaunchInfo li = from({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                               {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
  EXPECT_EQ(li.local_world, 2);
  EXPECT_EQ(train::default_threads(li, 16), 8);
  EXPECT_EQ(train::default_threads(li, 3), 1);
  li = from({{"PMI_RANK", "0"}, {"PMI_SIZE", "3"}, {"MPI_LOCALNRANKS", "3"}});
  EXPECT_EQ(train::default_threads(li, 2), 1);  // never 0
  li = from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_WORLD_SIZE", "9"}});
  EXPECT_EQ(li.local_world, 2);  // at most the world
  li = from({{"SLURM_PROCID", "0"}, {"SLURM_STEP_NUM_TASKS", "4"}, {"SLURM_NTASKS_PER_NODE", "4"}});
  EXPECT_EQ(train::default_threads(li, 8), 2);
}

// One process: the collectives scale in place and keep every value; undefined tensors are named.
TEST(DistributedLaunch, SingleProcessCollectives) {
  auto c = train::make_communicator("none", train::LaunchInfo{}, 10);
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  Tensor b = Tensor::from_vector(std::vector<double>{4, 8}, {2, 1});
  train::allreduce_scaled(*c, {a, b}, 0.5, 4);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0.5f, 1, 1.5f}));
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{2, 4}));
  train::broadcast_tensors(*c, {a});
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0.5f, 1, 1.5f}));
  vps::testing::expect_error([&] { train::allreduce_scaled(*c, {a, Tensor()}, 1); }, {"tensor 1 of 2 is undefined"});
}

// The proof of equivalence: 2 ranks x 1 sample per step = 1 process accumulating 2 samples per step
// (the samples (2s, 2s+1) and random streams 0 and 1 in both). Measured: bit-identical on one thread
// (a + b in float32 is commutative, so the MPI sum and the accumulation agree exactly); the test
// allows float32 round-off (1e-6 relative) in case the reduction order changes.
TEST_F(Distributed, TwoRanksMatchOneProcessAccumulatingTwoSamples) {
  if (std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  OneThread one;
  pid_t pid = spawn_mpirun(dir_->path(), train_args("dp", {"max_iters=4", "checkpoint_every=2"}));
  ASSERT_EQ(wait_for(pid, 300), 0) << text_of(*dir_ / "mpirun.log");
  auto r = vps_cli(train_args("ref", {"max_iters=4", "checkpoint_every=2", "accumulate=2"}));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(has(text_of(*dir_ / "mpirun.log"), "data-parallel over 2 ranks (mpi, started by mpirun), 2 samples per step"));
  auto a = load_safetensors(*dir_ / "dp/model.safetensors"), b = load_safetensors(*dir_ / "ref/model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    std::vector<double> x = a[i].second.to(DType::f64).to_vector<double>(), y = b[i].second.to(DType::f64).to_vector<double>();
    for (size_t k = 0; k < x.size(); ++k) worst = std::max(worst, std::abs(x[k] - y[k]) / (std::abs(y[k]) + 1e-3));
  }
  std::printf("2 ranks vs 1 process accumulating: largest relative parameter difference %.3g\n", worst);
  EXPECT_LE(worst, 1e-6);
  // the loss logged by rank 0 is the mean over both ranks: the reference's mean over its two samples
  auto la = lines_of(*dir_ / "dp/log.jsonl"), lb = lines_of(*dir_ / "ref/log.jsonl");
  ASSERT_EQ(la.size(), 4u);
  ASSERT_EQ(lb.size(), 4u);
  for (size_t i = 0; i < la.size(); ++i)
    EXPECT_NEAR(nlohmann::json::parse(la[i])["loss"].get<double>(), nlohmann::json::parse(lb[i])["loss"].get<double>(), 1e-5);
  // one TensorBoard writer: rank 0's file alone, each step once
  auto events = vps::train::list_event_files(*dir_ / "dp");
  ASSERT_EQ(events.size(), 1u);
  std::vector<int64_t> steps;
  for (const auto& e : vps::train::read_event_file(*dir_ / ("dp/" + events[0])))
    if (e.scalars.count("loss/total")) steps.push_back(e.step);
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4}));
  // a 2-rank checkpoint resumes in one process with the same samples per step, and not with another
  r = vps_cli(train_args("dp", {"max_iters=5", "checkpoint_every=2", "--resume"}));
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "run of 2 samples per step")) << r.err;
  r = vps_cli(train_args("dp", {"max_iters=5", "checkpoint_every=2", "accumulate=2", "--resume"}));
  EXPECT_EQ(r.rc, 0) << r.err;
}

// A rank stopped (SIGSTOP: a hang) mid-run: the other stops at the next gradient averaging within the
// timeout, naming it; the last checkpoint resumes. A rank killed (SIGKILL): mpirun ends the job and
// names it.
TEST_F(Distributed, HungOrDeadRankStopsTheOthersWithItsName) {
  if (std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  for (int sig : {SIGSTOP, SIGKILL}) {
    SCOPED_TRACE(sig == SIGSTOP ? "SIGSTOP" : "SIGKILL");
    std::string run = sig == SIGSTOP ? "hung" : "dead";
    data::remove_tree(*dir_ / "rank1.pid");
    pid_t pid = spawn_mpirun(dir_->path(), train_args(run, {"max_iters=100000", "checkpoint_every=1", "--dist-timeout", "3"}));
    // wait for rank 0's fourth step, then stop or kill rank 1. Step 4's log line comes after both ranks
    // passed step 3's checkpoint (a collective), so checkpoint 3 is whole whenever rank 1 stops; at the
    // third line rank 1 could stop inside that checkpoint's gather (seen under load).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (lines_of(*dir_ / (run + "/log.jsonl")).size() < 4 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_GE(lines_of(*dir_ / (run + "/log.jsonl")).size(), 4u) << text_of(*dir_ / "mpirun.log");
    pid_t rank1 = pid_t(std::stol(lines_of(*dir_ / "rank1.pid").at(0)));
    ASSERT_EQ(kill(rank1, sig), 0);
    auto t0 = std::chrono::steady_clock::now();
    int rc = wait_for(pid, 60);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    kill(rank1, SIGKILL);  // a stopped rank that mpirun left behind
    std::string log = text_of(*dir_ / "mpirun.log");
    EXPECT_NE(rc, 0) << log;
    EXPECT_NE(rc, -1) << "mpirun still running after 60 s\n" << log;
    EXPECT_LT(took, 30) << log;
    std::printf("%s rank 1: the job ended %.1f s later (timeout 3 s)\n", sig == SIGSTOP ? "stopped" : "killed", took);
    if (sig == SIGSTOP)  // the gradient averaging of a step or a checkpoint's gather: wherever rank 1 stopped
      EXPECT_TRUE(has(log, "MPI rank 0 of 2: rank 1 did not reach")) << log;
    else
      EXPECT_TRUE(has(log, "rank 1")) << log;
    // the last checkpoint is whole: one process with the same samples per step takes the next step
    int64_t k = std::stoll(read_safetensors(*dir_ / (run + "/checkpoint.safetensors")).metadata.at("iteration"));
    EXPECT_GE(k, 3);
    auto r = vps_cli(train_args(run, {"max_iters=" + std::to_string(k + 1), "accumulate=2", "--resume"}));
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(lines_of(*dir_ / (run + "/log.jsonl")).size(), size_t(k + 1));
  }
}

// Every file of a prediction folder, by relative path, with its bytes.
static std::map<std::string, std::vector<uint8_t>> files_of(const std::string& dir) {
  std::map<std::string, std::vector<uint8_t>> out;
  out["pred.json"] = data::read_file_bytes(dir + "/pred.json");
  for (const auto& f : data::list_files(dir + "/pan_pred", ".png")) out["pan_pred/" + f] = data::read_file_bytes(dir + "/pan_pred/" + f);
  return out;
}

// `vps infer --shard i/n` then `--merge`, and under mpirun one shard per rank merged by rank 0: the
// PNGs and pred.json are byte for byte the single-process run's (the thing ids of later videos are
// renumbered as one process numbers them).
TEST(ShardedInference, EqualsSingleProcessByteForByte) {
  test::TempDir dir;
  auto r = vps_cli({"synth", "--out", dir / "data", "--splits", "val", "--videos", "3", "--frames", "6", "--label-every",
                    "3", "--width", "96", "--height", "64"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto model = models::build_model_from_file("configs/vpsnet_track_tiny.json");
  models::save(*model, dir / "w.safetensors");
  auto infer = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"infer", "--config", "configs/vpsnet_track_tiny.json", "--weights", dir / "w.safetensors",
                                  "--data", dir / "data", "--split", "val", "--out", dir / out, "--stuff-area-limit", "16"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  r = vps_cli(infer("single", {}));
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* s : {"0/2", "1/2"}) {
    r = vps_cli(infer(std::string("shard") + s[0], {"--shard", s}));
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  r = vps_cli({"infer", "--merge", "--data", dir / "data", "--split", "val", "--out", dir / "merged", dir / "shard1", dir / "shard0"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto single = files_of(dir / "single");
  ASSERT_EQ(single.size(), 1u + 6u);  // pred.json + 3 videos x 2 labelled frames
  EXPECT_TRUE(single == files_of(dir / "merged"));
  int renumbered = 0;  // shard 1's frames whose thing ids the merge changed (0 when the model found no things)
  for (auto& [name, bytes] : files_of(dir / "shard1"))
    renumbered += name != "pred.json" && bytes != single.at(name);
  std::printf("sharded inference: %d of shard 1's frames renumbered by the merge\n", renumbered);
  EXPECT_EQ(data::read_json(dir / "shard1/shard.json")["videos"], nlohmann::json::array({1}));
  // refusals: a shard missing, one given twice, a bad --shard
  r = vps_cli({"infer", "--merge", "--data", dir / "data", "--out", dir / "m2", dir / "shard0"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "shard 0 of 2 but 1 folders")) << r.err;
  r = vps_cli({"infer", "--merge", "--data", dir / "data", "--out", dir / "m3", dir / "shard0", dir / "shard0"});
  EXPECT_TRUE(has(r.err, "shard 0 given twice")) << r.err;
  r = vps_cli(infer("bad", {"--shard", "2/2"}));
  EXPECT_EQ(r.rc, 2);  // a usage error
  EXPECT_TRUE(has(r.err, "--shard '2/2'")) << r.err;
  EXPECT_FALSE(data::path_exists(dir / "m2"));
  if (std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << "the mpirun part: " << why;
  pid_t pid = spawn_mpirun(dir.path(), infer("mpi", {}));
  ASSERT_EQ(wait_for(pid, 300), 0) << text_of(dir / "mpirun.log");
  EXPECT_TRUE(single == files_of(dir / "mpi"));
  EXPECT_FALSE(data::path_exists(dir / "mpi.shard-1-of-2"));  // rank 0 removed the shard folders
}

// The merge's renumbering on hand-built frames with things (the tiny random model above may find
// none): a shard holding only the second video numbers its things from scratch; renumbered after the
// first video they get the single-process ids, stuff and void unchanged.
TEST(ShardedInference, RenumberGivesTheSingleProcessIds) {
  infer::Pan2ch a{4, 1, {11, 11, 12, 0}, {1, 1, 2, 0}, {1, 1, 2, 0}};
  infer::Pan2ch b{4, 1, {13, 0, 11, 12}, {1, 0, 2, 3}, {5, 0, 6, 7}};
  nlohmann::json info;
  infer::SegmentIds single(data::cityscapes_categories()), shard(data::cityscapes_categories()),
      merge(data::cityscapes_categories());
  std::vector<uint32_t> single_a = single.encode(a, &info);
  single.new_video();
  std::vector<uint32_t> single_b = single.encode(b, &info);
  std::vector<uint32_t> shard_b = shard.encode(b, &info);
  ASSERT_NE(shard_b, single_b);  // the shard's ids differ: there is something to renumber
  for (uint32_t& p : single_a) EXPECT_EQ(merge.renumber(p), p);  // shard 0 held the first video
  merge.new_video();
  for (uint32_t& p : shard_b) p = merge.renumber(p);
  EXPECT_EQ(shard_b, single_b);
}
