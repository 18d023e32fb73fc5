// scripts/ablation.sh (`make ablation`) end to end at a tiny size: two seeds of two variants, two runs
// at once (ABL_JOBS=2), every stage (synth, train, infer, eval vpq / tc, scripts/ablation_table.py) and
// both tables; that a failed run stops it with the run's name; and that it refuses to replace a file or
// a folder that is not an earlier ablation's output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "cli_runner.h"
#include "data/fs_util.h"
#include "temp_dir.h"

namespace {

using vps::test::has;
using vps::test::lines_of;
using vps::test::self_exe;
using vps::test::text_of;

// The build folder of this test binary (make builds `vps` next to `vps_tests`).
std::string build_dir() {
  std::string p = self_exe();
  return p.substr(0, p.rfind('/'));
}

std::string skip_reason() {
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) return "python3 not found (scripts/ablation.sh needs it)";
  if (!vps::data::path_exists(build_dir() + "/vps")) return "no vps binary next to the test binary (" + build_dir() + ")";
  return "";
}

int run_script(const std::string& out, const std::string& log, const std::string& variants = "base full",
               const std::string& iters = "8") {
  std::string cmd = "ABL_JOBS=2 ABL_ITERS=" + iters + " ABL_VIDEOS=1 ABL_TRAIN_VIDEOS=1 ABL_SIZE='64 32' ABL_SEEDS='0 1' "
                    "ABL_VARIANTS='" + variants + "' ABL_README=" + out + ".README.md ABL_OUT=" + out +
                    " bash scripts/ablation.sh " + build_dir() + " >" + log + " 2>&1";
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

TEST(AblationScript, RunsEveryStageAndWritesBothTables) {
  std::string why = skip_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  vps::test::TempDir dir;
  std::string out = dir / "abl", log = dir / "log.txt";
  vps::data::write_file_atomic(out + ".README.md", "# x\n<!-- ablation-table:begin -->\nold\n<!-- ablation-table:end -->\nafter\n");
  ASSERT_EQ(run_script(out, log), 0) << text_of(log);
  auto rows = lines_of(out + "/rows.tsv");
  ASSERT_EQ(rows.size(), 4u) << text_of(log);
  // seed, variant, 3 numbers per window k (4 windows), final all / things / stuff, TC, AQ, IDF1
  size_t tabs = 0;
  for (char c : rows[0]) tabs += c == '\t';
  EXPECT_EQ(tabs, 2u + 12u + 3u + 3u - 1u) << rows[0];
  EXPECT_EQ(rows[0].substr(0, 7), "0\tbase\t");
  EXPECT_EQ(rows[3].substr(0, 7), "1\tfull\t");
  std::string table = text_of(out + "/table.md");
  EXPECT_TRUE(has(table, "| 1 | full |")) << table;
  EXPECT_TRUE(has(table, "Mean over seeds 0, 1")) << table;
  EXPECT_TRUE(has(table, "| full (L_segment + L_pixel) | 2 |")) << table;
  EXPECT_TRUE(vps::data::path_exists(out + "/s1/full/run/model.safetensors"));
  EXPECT_TRUE(vps::data::path_exists(out + "/s0/base/tc/tc.json"));
  EXPECT_TRUE(vps::data::path_exists(out + "/s0/base/stq/stq.json"));
  EXPECT_TRUE(has(table, "| AQ | IDF1 |")) << table;
  // the README's table is the generated one, between its markers
  const std::string readme = text_of(out + ".README.md");
  EXPECT_TRUE(has(readme, "| 1 | full |") && !has(readme, "\nold\n") && has(readme, "-->\nafter\n")) << readme;
  // the comparison report beside the table: a column per variant, the two seeds as repeats
  std::string html = text_of(out + "/report/index.html");
  EXPECT_TRUE(has(html, "id=\"table-vpq\"")) << html.substr(0, 2000);
  EXPECT_TRUE(has(html, "<th>base</th><th>full</th>")) << html.substr(0, 2000);
  EXPECT_TRUE(has(html, "n=2")) << html.substr(0, 2000);
  EXPECT_TRUE(has(text_of(log), out + "/report/index.html")) << text_of(log);

  // Runs that fail (vps train refuses 0 iterations) stop the script after the others, each named; no
  // table. An unknown variant is refused before anything runs.
  EXPECT_EQ(run_script(out, log, "base full", "0"), 1);
  EXPECT_TRUE(has(text_of(log), "seed 0, base failed") && has(text_of(log), "seed 1, full failed")) << text_of(log);
  EXPECT_FALSE(vps::data::path_exists(out + "/table.md"));
  EXPECT_EQ(run_script(out, log, "base nosuch"), 2);
  EXPECT_TRUE(has(text_of(log), "unknown variant nosuch")) << text_of(log);

  // A non-empty folder that is not an earlier ablation's output, or a file, is refused and left untouched.
  std::string other = dir / "other";
  vps::data::make_dirs(other);
  vps::data::write_file_atomic(other + "/keep.txt", "mine");
  EXPECT_EQ(run_script(other, log), 2);
  EXPECT_TRUE(has(text_of(log), "not an ablation's output"));
  EXPECT_EQ(text_of(other + "/keep.txt"), "mine");
  EXPECT_EQ(run_script(other + "/keep.txt", log), 2);  // a file is refused too
  EXPECT_EQ(text_of(other + "/keep.txt"), "mine");
}

}  // namespace
