// The `vps` command line against bad input, as a user meets it (vps::cli::run_main, the same code as
// the binary's main): exit codes (2 usage, 1 runtime), range-checked numbers, errors raised inside
// parallel regions, names from JSON that would leave the output folder, refused non-empty outputs,
// whole-set replacement, stale temporaries, GIFs grouped by video, and messages without source
// locations unless --debug.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "tensor/check.h"
#include "tensor/parallel.h"
#include "tests/cli_runner.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"
#include "tools/command.h"

using vps::data::path_exists;

namespace {

using Result = vps::test::CliResult;
using vps::test::vps_cli;

using vps::test::has;

// One small synthetic val set shared by the tests (1 video, 6 labelled frames, 64x32).
class CliReliability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vps::test::TempDir();
    Result r = vps_cli({"synth", "--out", *dir_ / "data", "--splits", "val", "--videos", "1", "--width", "64",
                        "--height", "32", "--seed", "3"});
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string gt() { return *dir_ / "data/val/panoptic_video"; }
  static std::string gt_json() { return *dir_ / "data/panoptic_gt_val_city_vps.json"; }
  // A copy of the GT json edited by `edit`, written next to the original.
  static std::string edited_gt_json(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = vps::data::read_json(gt_json());
    edit(j);
    std::string p = *dir_ / name;
    vps::data::write_json(p, j);
    return p;
  }
  static vps::test::TempDir* dir_;
};
vps::test::TempDir* CliReliability::dir_ = nullptr;

}  // namespace

TEST(CliFlagsRange, NumbersOutsideTheirRangeAreUsageErrorsNamingFlagAndRange) {
  vps::test::TempDir d;
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  std::vector<Case> cases = {
      {{"synth", "--out", d / "s", "--videos", "0"}, "--videos"},
      {{"synth", "--out", d / "s", "--width", "-5"}, "--width"},
      {{"synth", "--out", d / "s", "--frames", "99999999999"}, "--frames"},
      {{"synth", "--out", d / "s", "--splits", "bogus"}, "--splits"},
      {{"synth", "--out", d / "s", "--splits", "val,,train"}, "--splits"},
      {{"eval", "vpq", "--pred", "p", "--gt", "g", "--gt-json", "j", "--out", d / "o", "--threads", "100000"},
       "--threads"},
      {{"eval", "stq", "--pred", "p", "--gt", "g", "--gt-json", "j", "--out", d / "o", "--video-len", "0"},
       "--video-len"},
      {{"eval", "perturb", "--gt", "g", "--gt-json", "j", "--out", d / "o", "--percent", "200"}, "--percent"},
      {{"eval", "perturb", "--gt", "g", "--gt-json", "j", "--out", d / "o", "--radius", "-1"}, "--radius"},
      {{"eval", "perturb", "--gt", "g", "--gt-json", "j", "--out", d / "o", "--mode", "swap,bogus"}, "--mode"},
      {{"vis", "--gt-json", "j", "--gt", "g", "--out", d / "o", "--alpha", "101"}, "--alpha"},
      {{"infer-features", "--config", "c", "--weights", "w", "--input", "i", "--out", "o", "--size-divisor", "0"},
       "--size-divisor"},
  };
  for (const auto& c : cases) {
    Result r = vps_cli(c.args);
    EXPECT_EQ(r.rc, 2) << c.flag << ": " << r.err;
    EXPECT_TRUE(has(r.err, c.flag)) << r.err;
  }
  // counts the Cityscapes-VPS layout cannot encode (4-digit video ids and label numbers, frame ids
  // video * 10000 + frame): usage errors before anything is written
  for (auto args : std::vector<std::vector<std::string>>{{"--frames", "10000", "--label-every", "5000"},
                                                         {"--videos", "5000", "--splits", "train,val", "--frames", "1", "--label-every", "1"},
                                                         {"--videos", "100", "--frames", "200", "--label-every", "2"}}) {
    std::vector<std::string> a = {"synth", "--out", d / "s"};
    a.insert(a.end(), args.begin(), args.end());
    Result r = vps_cli(a);
    EXPECT_EQ(r.rc, 2) << r.err;
    EXPECT_TRUE(has(r.err, "at most 9999")) << r.err;
  }
  EXPECT_FALSE(path_exists(d / "s"));  // nothing written by a refused command
  Result r = vps_cli({"synth", "--out", d / "s", "--videos", "0"});
  EXPECT_TRUE(has(r.err, "[1, 10000]")) << r.err;
}

TEST(CliExitCodes, UsageRuntimeVersionAndDebug) {
  EXPECT_EQ(vps_cli({}).rc, 2);
  EXPECT_EQ(vps_cli({"no-such-command"}).rc, 2);
  Result v = vps_cli({"--version"});
  EXPECT_EQ(v.rc, 0);
  EXPECT_EQ(v.out, std::string("vps ") + vps::cli::kVersion + "\n");
  // A runtime error (missing file): exit 1, the file named, no [file.cpp:NN] unless --debug.
  vps::test::TempDir d;
  std::vector<std::string> a = {"eval", "perturb", "--gt", d / "nogt", "--gt-json", d / "missing.json", "--out",
                                d / "o"};
  Result r = vps_cli(a);
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "missing.json")) << r.err;
  EXPECT_FALSE(has(r.err, ".cpp:")) << r.err;
  a.insert(a.begin(), "--debug");
  r = vps_cli(a);
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, ".cpp:")) << r.err;
  EXPECT_FALSE(path_exists(d / "o"));
}

TEST(CliExitCodes, SourceLocationsAreStrippedButShapesStay) {
  using vps::cli::strip_source_locations;
  EXPECT_EQ(strip_source_locations("add: shapes [2, 3] and [4] differ [ops/elementwise.cu:41]"),
            "add: shapes [2, 3] and [4] differ");
  EXPECT_EQ(strip_source_locations("frame a: bad [data/x.cpp:3] (in b [eval/vpq.cpp:12])"), "frame a: bad (in b)");
  EXPECT_EQ(strip_source_locations("ratio [1:2] kept"), "ratio [1:2] kept");
}

TEST(ParallelForEach, AnErrorInAnyIterationIsRethrownAfterTheLoop) {
  std::vector<int> done(64, 0);
  try {
    vps::parallel_for_each(64, 2, [&](int64_t i) {
      done[size_t(i)] = 1;
      if (i == 40 || i == 9) throw vps::Error("item " + std::to_string(i));
    });
    FAIL() << "expected an error";
  } catch (const vps::Error& e) {
    EXPECT_EQ(std::string(e.what()), "item 9");  // the lowest index, as the sequential loop
  }
  int n = 0;
  for (int v : done) n += v;
  EXPECT_EQ(n, 64);  // the other items still ran
}

TEST_F(CliReliability, NegativeAreaInsideTheParallelEvaluationIsAnErrorNotAnAbort) {
  std::string js = edited_gt_json("neg_area.json", [](nlohmann::json& j) {
    j["annotations"][3]["segments_info"][0]["area"] = -5;
  });
  vps::test::TempDir d;
  ASSERT_EQ(vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", d / "pred"}).rc, 0);
  for (const char* metric : {"vpq", "stq"}) {
    Result r = vps_cli({"eval", metric, "--pred", d / "pred", "--gt", gt(), "--gt-json", js, "--out", d / "r",
                        "--threads", "2"});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_TRUE(has(r.err, "neg_area.json annotations[3]")) << r.err;
    EXPECT_TRUE(has(r.err, "'area' is negative")) << r.err;
  }
  EXPECT_FALSE(path_exists(d / "r"));
}

TEST_F(CliReliability, NamesFromTheJsonCannotLeaveTheOutputFolder) {
  for (const char* bad : {"../../escaped", "/tmp/abs", "a/b", ".."}) {
    std::string js = edited_gt_json("escape.json", [&](nlohmann::json& j) { j["images"][2]["id"] = bad; });
    vps::test::TempDir d;
    Result r = vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", js, "--out", d / "a/b/pred"});
    EXPECT_EQ(r.rc, 1) << bad;
    EXPECT_TRUE(has(r.err, "escape.json images[2] id")) << r.err;
    r = vps_cli({"vis", "--gt-json", js, "--gt", gt(), "--out", d / "a/b/vis"});
    EXPECT_EQ(r.rc, 1) << bad;
    EXPECT_TRUE(has(r.err, "cannot be used as a file name")) << r.err;
    int files = 0;  // a refused command leaves no file anywhere (its temporary folder is gone)
    for (auto& e : std::filesystem::recursive_directory_iterator(d.path())) files += e.is_regular_file();
    EXPECT_EQ(files, 0) << bad;
    EXPECT_FALSE(path_exists(d / "a/b/pred"));
  }
  std::string js = edited_gt_json("escape_file.json", [](nlohmann::json& j) { j["images"][0]["file_name"] = "../x.png"; });
  vps::test::TempDir d;
  Result r = vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", js, "--out", d / "pred"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "file_name")) << r.err;
}

TEST_F(CliReliability, AWrongSizedGtPngIsNamedNotThePrediction) {
  std::string js = edited_gt_json("size.json", [](nlohmann::json& j) { j["images"][1]["width"] = 65; });
  vps::test::TempDir d;
  ASSERT_EQ(vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", d / "pred"}).rc, 0);
  Result r = vps_cli({"eval", "vpq", "--pred", d / "pred", "--gt", gt(), "--gt-json", js, "--out", d / "r"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "panoptic_video/")) << r.err;
  EXPECT_TRUE(has(r.err, "is 64x32 but " + js + " images[1] says 65x32")) << r.err;
}

TEST_F(CliReliability, OutputSetsAreWhole) {
  vps::test::TempDir d;
  std::string pred = d / "pred";
  ASSERT_EQ(vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", pred}).rc, 0);
  auto before = vps::data::read_file_bytes(pred + "/pred.json");
  // Non-empty output folder: refused without --force, untouched.
  Result r = vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", pred, "--mode", "drop"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "--force")) << r.err;
  EXPECT_EQ(vps::data::read_file_bytes(pred + "/pred.json"), before);
  // A run that fails half-way with --force (one GT PNG is missing) leaves the old set as it was.
  std::string broken = d / "broken_gt";
  std::filesystem::copy(gt(), broken);
  auto names = vps::data::list_files(broken, ".png");
  std::remove((broken + "/" + names[4]).c_str());
  r = vps_cli({"eval", "perturb", "--gt", broken, "--gt-json", gt_json(), "--out", pred, "--mode", "drop", "--force"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, names[4])) << r.err;
  EXPECT_EQ(vps::data::read_file_bytes(pred + "/pred.json"), before);
  EXPECT_EQ(vps::data::list_files(pred + "/pan_pred", ".png").size(), 6u);
  // With --force and good input the whole folder is replaced; an extra file of the old set is gone.
  vps::data::write_file_atomic(pred + "/pan_pred/stale.png", "x");
  r = vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", pred, "--mode", "drop", "--force"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(vps::data::read_file_bytes(pred + "/pred.json"), before);
  EXPECT_FALSE(path_exists(pred + "/pan_pred/stale.png"));
  // The working directory itself is never replaced.
  r = vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", ".", "--force"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "working directory")) << r.err;
  // --force replaces only what vps wrote (the marker): a folder of the user's stays as it was ...
  std::string mine = d / "mine";
  vps::data::make_dirs(mine);
  vps::data::write_file_atomic(mine + "/notes.txt", "keep");
  r = vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", mine, "--force"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, ".vps-output")) << r.err;
  EXPECT_TRUE(path_exists(mine + "/notes.txt"));
  // ... and an output folder is never an input or a parent of one
  r = vps_cli({"eval", "vpq", "--pred", pred, "--gt", gt(), "--gt-json", gt_json(), "--out", pred, "--force"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "is or holds the input")) << r.err;
  EXPECT_TRUE(path_exists(pred + "/pred.json"));
}

// One writer per output folder: a second command into a folder being written stops at once naming the
// holder; a folder that appears while a command runs is not replaced; a lock file left behind by a
// killed writer is taken over.
TEST_F(CliReliability, OneWriterPerOutputFolder) {
  vps::test::TempDir d;
  std::string out = d / "pred";
  {
    vps::data::PathLock held(out);
    EXPECT_TRUE(path_exists(out + ".lock"));
    Result r = vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", out});
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(has(r.err, "being written by another process (pid " + std::to_string(::getpid()))) << r.err;
    EXPECT_FALSE(path_exists(out));
    vps::testing::expect_error([&] { vps::data::OutputDir o(out + "/", false); }, {"pred.lock", "one writer"});
  }
  EXPECT_FALSE(path_exists(out + ".lock"));  // removed by its holder
  vps::data::write_file_atomic(out + ".lock", "pid 1: a writer killed long ago\n");  // no flock on it
  ASSERT_EQ(vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", out}).rc, 0);
  EXPECT_FALSE(path_exists(out + ".lock"));
  // A folder someone else fills while a command writes: not replaced, even with --force; the command's
  // outputs stay in its temporary folder, named in the error.
  std::string late = d / "late";
  for (bool force : {false, true}) {
    vps::data::remove_tree(late);
    vps::data::OutputDir o(late, force);
    vps::data::write_file_atomic(o.path() + "/result.txt", "mine");
    vps::data::make_dirs(late);
    vps::data::write_file_atomic(late + "/theirs.txt", "theirs");
    vps::testing::expect_error([&] { o.commit(); }, {late, "by someone else", o.path()});
    EXPECT_EQ(vps::data::read_file_bytes(late + "/theirs.txt").size(), 6u);
    EXPECT_TRUE(path_exists(o.path() + "/result.txt"));
    vps::data::remove_tree(o.path());
  }
  vps::testing::expect_error([&] { vps::data::check_free_disk(d.path(), uint64_t(1) << 62, "a big job"); },
                             {"a big job", "needs at least", "free"});
}

// vps vis reads a prediction set with eval's reader: what vps eval refuses, vps vis refuses with the
// same message (it once drew a pred.json that eval rejected).
TEST_F(CliReliability, VisAndEvalAcceptTheSameFiles) {
  vps::test::TempDir d;
  std::string pred = d / "pred";
  ASSERT_EQ(vps_cli({"eval", "perturb", "--gt", gt(), "--gt-json", gt_json(), "--out", pred}).rc, 0);
  nlohmann::json j = vps::data::read_json(pred + "/pred.json");
  j["annotations"][1]["segments_info"][0]["category_id"] = -3;
  vps::data::write_json(pred + "/pred.json", j);
  Result e = vps_cli({"eval", "vpq", "--pred", pred, "--gt", gt(), "--gt-json", gt_json(), "--out", d / "vpq"});
  Result v = vps_cli({"vis", "--pred", pred, "--gt", gt(), "--gt-json", gt_json(), "--out", d / "vis"});
  EXPECT_EQ(e.rc, 1);
  EXPECT_EQ(v.rc, 1);
  EXPECT_TRUE(has(e.err, "category_id") && has(v.err, "category_id")) << e.err << v.err;
  EXPECT_EQ(e.err.substr(e.err.find("error:")), v.err.substr(v.err.find("error:")));
}

TEST_F(CliReliability, StaleTemporariesOfDeadProcessesAreRemoved) {
  vps::test::TempDir d;
  pid_t dead = 4000000;  // above any pid of this machine's kernel (pid_max is at most 4194304)
  while (::kill(dead, 0) == 0) ++dead;
  std::string out = d / "vis";
  std::string stale_dir = out + ".tmp." + std::to_string(dead), stale_old = stale_dir + "-old";
  vps::data::make_dirs(stale_dir);
  vps::data::make_dirs(stale_old);
  std::string mine = out + ".tmp." + std::to_string(::getpid()) + "x";  // not a pid pattern: kept
  vps::data::write_file_atomic(mine, "keep");
  ASSERT_EQ(vps_cli({"vis", "--gt-json", gt_json(), "--gt", gt(), "--out", out}).rc, 0);
  EXPECT_FALSE(path_exists(stale_dir));
  EXPECT_FALSE(path_exists(stale_old));
  EXPECT_TRUE(path_exists(mine));
  std::string file = d / "w.safetensors", stale_file = file + ".tmp." + std::to_string(dead);
  vps::data::write_file_atomic(stale_file, "partial");
  vps::data::remove_stale_temporaries(file);
  EXPECT_FALSE(path_exists(stale_file));
}

TEST(CliVis, GifsFollowTheVideoIdsNotAFrameCount) {
  // 2 videos with 3 labelled frames each: the old fixed count of 6 put both videos into one GIF.
  vps::test::TempDir d;
  ASSERT_EQ(vps_cli({"synth", "--out", d / "data", "--splits", "val", "--videos", "2", "--frames", "15", "--width",
                     "64", "--height", "32"}).rc, 0);
  Result r = vps_cli({"vis", "--gt-json", d / "data/panoptic_gt_val_city_vps.json", "--gt",
                      d / "data/val/panoptic_video", "--out", d / "vis", "--gif", "--sheet"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto gifs = vps::data::list_files(d / "vis", ".gif");
  ASSERT_EQ(gifs.size(), 2u);
  EXPECT_EQ(gifs[0], "0001.gif");
  EXPECT_EQ(gifs[1], "0002.gif");
  // GIF frames: one image descriptor (0x2C after a graphic control extension 0x21 0xF9) each.
  auto bytes = vps::data::read_file_bytes(d / "vis/0001.gif");
  int frames = 0;
  for (size_t i = 0; i + 2 < bytes.size(); ++i)
    if (bytes[i] == 0x21 && bytes[i + 1] == 0xF9 && bytes[i + 2] == 0x04) ++frames;
  EXPECT_EQ(frames, 3);
}

// The commands that train or run a model say in --help how many threads they take by default.
TEST(CliHelp, TrainAndInferStateTheThreadDefault) {
  for (const char* cmd : {"train", "infer"}) {
    ::testing::internal::CaptureStdout();  // a command's --help goes to the process's stdout
    vps::test::CliResult r = vps_cli({cmd, "--help"});
    std::fflush(stdout);
    std::string help = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(r.rc, 0) << cmd;
    EXPECT_NE(help.find("cores / local"), std::string::npos) << cmd << ": " << help;
    EXPECT_NE(help.find("OMP_NUM_THREADS"), std::string::npos) << cmd;
  }
}
