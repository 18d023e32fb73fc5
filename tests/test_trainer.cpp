// The trainer (train/trainer.h) and its checkpoints: a run interrupted at step k and resumed from its
// checkpoint in a fresh process reaches bit-identical parameters and losses at step n; a checkpoint
// write killed mid-way (SIGKILL) leaves the previous checkpoint intact and no partial file under the
// final name; the JSON-lines log; bad checkpoints are refused by name.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "data/fs_util.h"
#include "layers/norm_modules.h"
#include "models/detection/mask_rcnn.h"
#include "models/registry.h"
#include "ops/ops.h"
#include "tensor/io/tensor_io.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"
#include "train/trainer.h"

extern char** environ;

using namespace vps;

namespace {

const int kSteps = 6, kInterrupt = 3;

// Tiny Mask R-CNN on two fixed synthetic samples: random sampling inside forward_train makes the
// Generator state part of what a resume must restore.
models::Batch sample(int64_t step) {
  Generator g(100 + uint64_t(step % 2));
  models::Batch b;
  b.frame.image = randn({1, 3, 64, 64}, g);
  b.frame.gt.boxes = Tensor::from_vector(std::vector<float>{8, 8, 30, 40, 34, 10, 60, 30}, {2, 4});
  b.frame.gt.labels = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
  std::vector<uint8_t> m(2 * 64 * 64, 0);
  for (int y = 8; y <= 40; ++y)
    for (int x = 8; x <= 30; ++x) m[size_t(y * 64 + x)] = 1;
  for (int y = 10; y <= 30; ++y)
    for (int x = 34; x <= 60; ++x) m[size_t(64 * 64 + y * 64 + x)] = 1;
  b.frame.gt.masks = Tensor::from_vector(m, {2, 64, 64});
  return b;
}

train::TrainerOptions options(const std::string& out) {
  train::TrainerOptions o;
  o.sgd = {0.01, 0.9, 0, 1e-4, false};
  o.schedule.base_lr = 0.01;
  o.schedule.warmup_iters = 4;
  o.schedule.steps = {5};
  o.clip_grad_norm = 10;
  o.max_iters = kSteps;
  o.checkpoint_every = kInterrupt;
  o.seed = 9;
  o.out_dir = out;
  return o;
}

std::shared_ptr<models::Model> tiny() { return models::build_model_from_file("configs/mask_rcnn_tiny.json"); }

struct OneThread {  // bit-identical runs: no thread-count-dependent reduction order
  int prev = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(prev); }
};

// Runs this test binary again with one (disabled) test selected and VPS_TEST_CHILD_DIR=dir; returns the pid.
pid_t spawn_child(const std::string& test, const std::string& dir) {
  // The running binary itself: /proc/self/exe still reaches it when a rebuild has replaced the file
  // (its resolved path then ends in " (deleted)" and could not be executed).
  std::string exe = "/proc/self/exe";
  std::string filter = "--gtest_filter=" + test;
  std::vector<std::string> args = {exe, filter, "--gtest_also_run_disabled_tests"};
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.push_back(*e);
  env_s.push_back("VPS_TEST_CHILD_DIR=" + dir);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), envp.data()), 0);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string child_dir() {
  const char* d = std::getenv("VPS_TEST_CHILD_DIR");
  return d ? d : "";
}

}  // namespace

// Child of ResumedRunIsBitIdentical: a fresh process resumes from the step-3 checkpoint and finishes.
TEST(TrainerChild, DISABLED_ResumeAndFinish) {
  std::string dir = child_dir();
  ASSERT_FALSE(dir.empty());
  OneThread one;
  train::Trainer t(tiny(), options(dir + "/resumed"));
  t.resume(dir + "/resumed/checkpoint.safetensors");
  ASSERT_EQ(t.iteration(), kInterrupt);
  t.run(sample);
}

TEST(Trainer, ResumedRunIsBitIdentical) {
  OneThread one;
  test::TempDir d;
  // Uninterrupted: 6 steps.
  train::Trainer full(tiny(), options(d / "full"));
  full.run(sample);
  // Interrupted: the same run stopped after its step-3 checkpoint ...
  train::TrainerOptions o = options(d / "resumed");
  o.max_iters = kInterrupt;
  train::Trainer part(tiny(), o);
  part.run(sample);
  // ... and a line of a step that the crash lost (it must not survive the resume).
  {
    std::FILE* f = std::fopen((d / "resumed/log.jsonl").c_str(), "a");
    std::fputs("{\"iter\": 4, \"loss\": 123}\n{\"iter\": 5, \"lo", f);
    std::fclose(f);
  }
  ASSERT_EQ(wait_exit(spawn_child("TrainerChild.DISABLED_ResumeAndFinish", d.path())), 0);
  auto a = load_safetensors(d / "full/checkpoint.safetensors");
  auto b = load_safetensors(d / "resumed/checkpoint.safetensors");
  ASSERT_EQ(a.size(), b.size());
  size_t compared = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    Tensor x = a[i].second.to(DType::f64), y = b[i].second.to(DType::f64);
    EXPECT_EQ(x.to_vector<double>(), y.to_vector<double>()) << a[i].first;  // bit-identical
    ++compared;
  }
  EXPECT_GT(compared, 50u);
  // The logs agree line by line on every loss term (the timings differ).
  auto lines = [](const std::string& p) {
    std::vector<nlohmann::json> v;
    auto bytes = data::read_file_bytes(p);
    std::string s(bytes.begin(), bytes.end());
    for (size_t pos = 0, nl; (nl = s.find('\n', pos)) != std::string::npos; pos = nl + 1)
      v.push_back(nlohmann::json::parse(s.substr(pos, nl - pos)));
    return v;
  };
  auto la = lines(d / "full/log.jsonl"), lb = lines(d / "resumed/log.jsonl");
  ASSERT_EQ(la.size(), size_t(kSteps));
  ASSERT_EQ(lb.size(), size_t(kSteps));
  for (size_t i = 0; i < la.size(); ++i) {
    EXPECT_EQ(la[i]["iter"], int(i + 1));
    for (const char* k : {"loss", "loss_rpn_cls", "loss_cls", "loss_mask", "lr", "grad_norm"})
      EXPECT_EQ(la[i][k].get<double>(), lb[i][k].get<double>()) << "step " << i + 1 << " " << k;
  }
  EXPECT_GT(la[0]["loss"].get<double>(), la[kSteps - 1]["loss"].get<double>());
}

// Child of KilledCheckpointWriteLeavesThePreviousIntact: writes one large checkpoint, slowly enough
// to be killed in the middle.
TEST(TrainerChild, DISABLED_WriteLargeCheckpoint) {
  std::string dir = child_dir();
  ASSERT_FALSE(dir.empty());
  Generator g(0);
  auto m = std::make_shared<nn::Linear>(16384, 8192, g);  // 512 MiB of weights: a write long enough to catch
  train::SGD sgd(m->named_parameters(), {});
  train::save_checkpoint(dir + "/ckpt.safetensors", *m, sgd, {7, 1, 2, {}});
}

TEST(Trainer, KilledCheckpointWriteLeavesThePreviousIntact) {
  test::TempDir d;
  std::string ckpt = d / "ckpt.safetensors";
  Generator g(0);
  auto small = std::make_shared<nn::Linear>(4, 3, g);
  train::SGD sgd(small->named_parameters(), {});
  train::save_checkpoint(ckpt, *small, sgd, {3, 1, 2, {}});
  auto before = data::read_file_bytes(ckpt);
  pid_t pid = spawn_child("TrainerChild.DISABLED_WriteLargeCheckpoint", d.path());
  // Kill it as soon as its temporary file holds data (the write is under way).
  std::string tmp = ckpt + ".tmp." + std::to_string(pid);
  bool seen = false;
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
    std::error_code ec;
    if (std::filesystem::exists(tmp, ec) && std::filesystem::file_size(tmp, ec) > (1u << 20)) {
      seen = true;
      break;
    }
    std::this_thread::yield();  // poll without sleeping: a loaded machine could sleep past the write
  }
  ::kill(pid, SIGKILL);
  int code = wait_exit(pid);
  ASSERT_TRUE(seen) << "the child never started writing (exit " << code << ")";
  EXPECT_EQ(code, 128 + SIGKILL) << "killed after it had finished: the test did not interrupt the write";
  EXPECT_EQ(data::read_file_bytes(ckpt), before) << "the previous checkpoint changed";
  train::SGD sgd2(small->named_parameters(), {});
  EXPECT_EQ(train::load_checkpoint(ckpt, *small, sgd2).iteration, 3);
  // The orphaned temporary is the only trace, and the next save removes it.
  EXPECT_TRUE(data::path_exists(tmp));
  train::save_checkpoint(ckpt, *small, sgd2, {4, 1, 2, {}});
  EXPECT_FALSE(data::path_exists(tmp));
}

TEST(Trainer, BadCheckpointsAreRefusedByName) {
  test::TempDir d;
  Generator g(0);
  auto m = std::make_shared<nn::Linear>(4, 3, g);
  train::SGD sgd(m->named_parameters(), {});
  std::string plain = d / "weights.safetensors";
  save_safetensors(plain, m->state_dict());
  try {
    train::load_checkpoint(plain, *m, sgd);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a vps training checkpoint"), std::string::npos) << e.what();
  }
  std::string ck = d / "ck.safetensors";
  train::save_checkpoint(ck, *m, sgd, {1, 0, 0, {}});
  auto other = std::make_shared<nn::Linear>(5, 3, g);
  train::SGD sgd_other(other->named_parameters(), {});
  try {
    train::load_checkpoint(ck, *other, sgd_other);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(ck), std::string::npos) << e.what();
  }
  EXPECT_EQ(train::checkpoint_model_weights(ck).size(), m->state_dict().size());
  // a NaN weight or an absurd iteration: refused by name before anything is loaded
  std::vector<float> before = m->weight.to_vector<float>();
  auto nan_model = std::make_shared<nn::Linear>(4, 3, g);
  nan_model->weight.data<float>()[5] = std::nanf("");
  train::SGD sgd_nan(nan_model->named_parameters(), {});
  train::save_checkpoint(ck, *nan_model, sgd_nan, {1, 0, 0, {}});
  vps::testing::expect_error([&] { train::load_checkpoint(ck, *m, sgd); }, {"model.weight", "non-finite", "element 5"});
  EXPECT_EQ(m->weight.to_vector<float>(), before);
  train::save_checkpoint(ck, *m, sgd, {uint64_t(1) << 60, 0, 0, {}});
  vps::testing::expect_error([&] { train::load_checkpoint(ck, *m, sgd); }, {"iteration", "2^53"});
}

// The per-module gradient norms of the log: grouped by the first name component, and their squares add
// up to the total's; a parameter without a gradient adds nothing.
TEST(GradNorms, ByModuleAddUpToTheTotal) {
  Tensor a = Tensor::zeros({2}), b = Tensor::zeros({1}), c = Tensor::zeros({3});
  a.set_grad(Tensor::from_vector<float>({3, 4}, {2}));
  b.set_grad(Tensor::from_vector<float>({12}, {1}));
  auto n = train::grad_norms_by_module({{"backbone.conv1.weight", a}, {"backbone.bn1.bias", b}, {"track_head.fcs.0.bias", c}});
  EXPECT_DOUBLE_EQ(n.by_module.at("backbone"), 13.0);
  EXPECT_EQ(n.by_module.count("track_head"), 0u);
  EXPECT_DOUBLE_EQ(n.total, 13.0);
  c.set_grad(Tensor::from_vector<float>({0, 0, 84}, {3}));
  n = train::grad_norms_by_module({{"backbone.conv1.weight", a}, {"backbone.bn1.bias", b}, {"track_head.fcs.0.bias", c}});
  EXPECT_DOUBLE_EQ(n.by_module.at("track_head"), 84.0);
  EXPECT_DOUBLE_EQ(n.total, 85.0);
}
