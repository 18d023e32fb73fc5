// `vps train`'s TensorBoard event files: every tag of a step and of an --eval-every evaluation (with its
// GT | prediction image), a resume that follows a crash writes each step once (the steps after the
// checkpoint are dropped from the earlier files and redone in a new one), "tensorboard": false writes
// none. Read back by our own reader and, where the Python package is installed (bash scripts/pypi.sh),
// by tensorboard's EventAccumulator, as TensorBoard reads them.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "data/fs_util.h"
#include "tests/cli_runner.h"
#include "tests/temp_dir.h"
#include "train/event_file.h"

using vps::test::vps_cli;

namespace {

// step -> tag -> value over every event file of a run, counting how often each (tag, step) appears
struct Scalars {
  std::map<std::string, std::map<int64_t, float>> by_tag;
  int duplicates = 0;
  std::map<std::string, std::set<int64_t>> images;
};
Scalars read_run(const std::string& run) {
  Scalars s;
  for (const auto& f : vps::train::list_event_files(run))
    for (const auto& e : vps::train::read_event_file(run + "/" + f)) {
      for (const auto& [tag, v] : e.scalars) {
        s.duplicates += s.by_tag[tag].count(e.step) ? 1 : 0;
        s.by_tag[tag][e.step] = v;
      }
      for (const auto& [tag, png] : e.images) s.images[tag].insert(e.step);
    }
  return s;
}

// tests/report/read_tensorboard.py over `run` with the project's venv (scripts/pypi.sh) or python3; the
// empty object and `skip` set when the tensorboard package is missing.
nlohmann::json python_read(const std::string& run, std::string* skip) {
  std::string py = vps::data::path_exists("build/pyenv/bin/python") ? "build/pyenv/bin/python" : "python3";
  std::string cmd = py + " tests/report/read_tensorboard.py '" + run + "' 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    *skip = "cannot run " + py;
    return {};
  }
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = pclose(p);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    *skip = out;
    return {};
  }
  EXPECT_EQ(status, 0) << out;
  return nlohmann::json::parse(out.substr(out.find('{')), nullptr, false);
}

class TensorBoardTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vps::test::TempDir();
    auto r = vps_cli({"synth", "--out", *dir_ / "data", "--splits", "train,val", "--videos", "1", "--frames", "6",
                      "--label-every", "2", "--width", "64", "--height", "32"});
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static vps::test::CliResult train(const std::string& run, std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--config", "configs/train_vpsnet_tiny.json", "--data", *dir_ / "data",
                                  "--out", *dir_ / run, "log_every=100", "schedule.warmup_iters=1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return vps_cli(a);
  }
  static vps::test::TempDir* dir_;
};
vps::test::TempDir* TensorBoardTrain::dir_ = nullptr;

}  // namespace

TEST_F(TensorBoardTrain, EveryTagOfAStepAndAnEvaluation) {
  auto r = train("tags", {"max_iters=2", "--eval-every", "2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string run = *dir_ / "tags";
  ASSERT_EQ(vps::train::list_event_files(run).size(), 1u);
  Scalars s = read_run(run);
  EXPECT_EQ(s.duplicates, 0);
  for (const char* tag : {"loss/total", "loss/loss_segm", "loss/loss_match", "lr", "grad_norm/total",
                          "grad_norm/backbone", "grad_norm/track_head", "time/data", "time/step", "memory/max_rss_mb",
                          "train/acc"}) {
    ASSERT_EQ(s.by_tag.count(tag), 1u) << tag;
    EXPECT_EQ(s.by_tag[tag].size(), 2u) << tag;
  }
  // the values are the log's
  auto lines = vps::test::lines_of(run + "/log.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json j = nlohmann::json::parse(lines[1]);
  EXPECT_FLOAT_EQ(s.by_tag["loss/total"][2], float(j["loss"].get<double>()));
  EXPECT_FLOAT_EQ(s.by_tag["grad_norm/neck"][2], float(j["grad_norm.neck"].get<double>()));
  for (const char* tag : {"eval/vpq/all", "eval/vpq/things", "eval/vpq/stuff", "eval/vpq_k0/all", "eval/vpq_k15/stuff",
                          "eval/stq", "eval/aq", "eval/sq_miou", "eval/idf1", "eval/id_switches"}) {
    ASSERT_EQ(s.by_tag.count(tag), 1u) << tag;
    EXPECT_EQ(s.by_tag[tag].begin()->first, 2) << tag;
  }
  EXPECT_EQ(s.images["eval/gt_vs_pred"], std::set<int64_t>{2});

  std::string skip;
  nlohmann::json py = python_read(run, &skip);
  if (!skip.empty()) GTEST_SKIP() << "tensorboard's reader not run: " << skip;
  ASSERT_TRUE(py.is_object());
  EXPECT_EQ(py["scalars"]["loss/total"].size(), 2u);
  EXPECT_FLOAT_EQ(py["scalars"]["loss/total"][1][1].get<float>(), s.by_tag["loss/total"][2]);
  EXPECT_EQ(py["scalars"]["eval/stq"][0][0], 2);
  ASSERT_EQ(py["images"]["eval/gt_vs_pred"].size(), 1u);
  EXPECT_EQ(py["images"]["eval/gt_vs_pred"][0][0], 2);
  EXPECT_EQ(py["scalars"].size(), s.by_tag.size());
}

// A run checkpointed at 3 whose later steps 4 and 5 reached an event file before a crash: the resume
// drops them there and writes 4..6 into a new file, so every step is read once, with the new values.
TEST_F(TensorBoardTrain, ResumeAfterACrashWritesEachStepOnce) {
  const std::string run = *dir_ / "resume";
  auto r = train("resume", {"max_iters=3", "checkpoint_every=3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  {
    vps::train::EventFileWriter crashed(run);  // what the crashed continuation wrote after the checkpoint
    crashed.add_scalars(4, {{"loss/total", 99.0}});
    crashed.add_scalars(5, {{"loss/total", 99.0}});
  }
  r = train("resume", {"max_iters=6", "checkpoint_every=3", "--resume"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(vps::train::list_event_files(run).size(), 3u);
  Scalars s = read_run(run);
  EXPECT_EQ(s.duplicates, 0);
  ASSERT_EQ(s.by_tag["loss/total"].size(), 6u);
  for (int64_t step = 1; step <= 6; ++step) {
    ASSERT_EQ(s.by_tag["loss/total"].count(step), 1u) << step;
    EXPECT_NE(s.by_tag["loss/total"][step], 99.0f) << step;
  }
  EXPECT_EQ(s.by_tag["lr"].size(), 6u);

  std::string skip;
  nlohmann::json py = python_read(run, &skip);
  if (!skip.empty()) GTEST_SKIP() << "tensorboard's reader not run: " << skip;
  ASSERT_TRUE(py.is_object());
  const auto& loss = py["scalars"]["loss/total"];
  ASSERT_EQ(loss.size(), 6u) << loss.dump();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(loss[i][0], i + 1);
    EXPECT_NE(loss[i][1].get<float>(), 99.0f);
  }
}

TEST_F(TensorBoardTrain, ConfigSwitchTurnsThemOff) {
  auto r = train("off", {"max_iters=1", "tensorboard=false"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(vps::train::list_event_files(*dir_ / "off").empty());
  EXPECT_TRUE(vps::data::path_exists(*dir_ / "off/log.jsonl"));
  r = train("off2", {"max_iters=1", "tensorboard=3"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("tensorboard"), std::string::npos) << r.err;
}
