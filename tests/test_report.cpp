// `vps report`: the page of a real tiny run (vps train with --eval-every), real eval folders (vps eval
// vpq / stq / tc of perturbed GT) and a vps vis --gif folder. The HTML is parsed: balanced tags, every
// plot and table present, every image reference inside the report folder and present there, nothing
// fetched from the network; repeats under one label give means with ranges. Bad input gives named errors.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "report/svg_plot.h"
#include "tests/cli_runner.h"
#include "tests/temp_dir.h"

using vps::test::has;
using vps::test::text_of;
using vps::test::vps_cli;

namespace {

struct ParsedHtml {
  bool balanced = true;
  std::string problem;
  std::multiset<std::string> tags;   // element names opened
  std::set<std::string> ids;
  std::vector<std::string> refs;     // src and href values
};

// A small HTML tokenizer: every non-void element closed in order; attributes id, src, href collected.
ParsedHtml parse_html(const std::string& h) {
  static const std::set<std::string> kVoid = {"meta", "img", "br", "hr", "link", "input", "!doctype"};
  ParsedHtml p;
  std::vector<std::string> stack;
  for (size_t i = h.find('<'); i != std::string::npos; i = h.find('<', i + 1)) {
    size_t end = h.find('>', i);
    if (end == std::string::npos) return p.balanced = false, p.problem = "unterminated tag", p;
    std::string tag = h.substr(i + 1, end - i - 1);
    if (stack.size() && (stack.back() == "style")) {
      if (tag != "/style") continue;
    }
    bool closing = !tag.empty() && tag[0] == '/', self_closing = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" \n/", closing ? 1 : 0) - (closing ? 1 : 0));
    for (auto& c : name) c = char(std::tolower(c));
    if (closing) {
      if (stack.empty() || stack.back() != name) {
        p.balanced = false;
        p.problem = "</" + name + "> closes <" + (stack.empty() ? "nothing" : stack.back()) + ">";
        return p;
      }
      stack.pop_back();
      continue;
    }
    p.tags.insert(name);
    for (const char* attr : {" id=\"", " src=\"", " href=\""}) {
      size_t a = tag.find(attr);
      if (a == std::string::npos) continue;
      size_t v = a + std::strlen(attr), q = tag.find('"', v);
      std::string value = tag.substr(v, q - v);
      if (std::string(attr) == " id=\"") p.ids.insert(value);
      else p.refs.push_back(value);
    }
    if (!self_closing && !kVoid.count(name)) stack.push_back(name);
  }
  if (!stack.empty()) p.balanced = false, p.problem = "<" + stack.back() + "> never closed";
  return p;
}

class Report : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vps::test::TempDir();
    const std::string& d = dir_->path();
    auto ok = [](const vps::test::CliResult& r) { ASSERT_EQ(r.rc, 0) << r.err; };
    ok(vps_cli({"synth", "--out", d + "/data", "--splits", "train,val", "--videos", "1", "--frames", "6",
                "--label-every", "1", "--width", "64", "--height", "32", "--flow-offsets", "-1,1,1"}));
    ok(vps_cli({"train", "--config", "configs/train_vpsnet_tiny.json", "--data", d + "/data", "--out", d + "/run",
                "--eval-every", "2", "max_iters=4", "log_every=100", "schedule.warmup_iters=1"}));
    const std::string gt = d + "/data/val/panoptic_video", gtj = d + "/data/panoptic_gt_val_city_vps.json";
    // two "seeds": the GT perturbed two ways, each scored with VPQ, STQ and TC
    for (std::string s : {"0", "1"}) {
      const std::string pred = d + "/pred" + s, e = d + "/eval" + s;
      ok(vps_cli({"eval", "perturb", "--gt", gt, "--gt-json", gtj, "--out", pred, "--mode", s == "0" ? "none" : "swap,erode"}));
      ok(vps_cli({"eval", "vpq", "--pred", pred, "--gt", gt, "--gt-json", gtj, "--out", e + "/vpq"}));
      ok(vps_cli({"eval", "stq", "--pred", pred, "--gt", gt, "--gt-json", gtj, "--out", e + "/stq"}));
      ok(vps_cli({"eval", "tc", "--pred", pred, "--gt-json", gtj, "--flow", d + "/data/val/flow", "--out", e + "/tc"}));
    }
    ok(vps_cli({"vis", "--gt-json", gtj, "--gt", gt, "--pred", d + "/pred1", "--out", d + "/vis", "--side-by-side", "--gif"}));
  }
  static void TearDownTestSuite() { delete dir_; }
  static vps::test::TempDir* dir_;
};
vps::test::TempDir* Report::dir_ = nullptr;

}  // namespace

TEST(ReportPlots, SmoothingLogScaleAndEscaping) {
  auto s = vps::report::smooth({1, 1, 1, 5}, 0.5);
  EXPECT_DOUBLE_EQ(s[0], 1);  // debiased: the first value is itself
  EXPECT_DOUBLE_EQ(s[2], 1);
  EXPECT_GT(s[3], 1);
  EXPECT_LT(s[3], 5);
  EXPECT_TRUE(vps::report::wants_log_scale({10, 0.1}));
  EXPECT_FALSE(vps::report::wants_log_scale({10, 1}));
  EXPECT_FALSE(vps::report::wants_log_scale({10, 0}));
  EXPECT_EQ(vps::report::html_escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
  std::vector<double> x(5000), y(5000);
  for (int i = 0; i < 5000; ++i) x[size_t(i)] = y[size_t(i)] = i;
  vps::report::thin_out(x, y, 100);
  EXPECT_EQ(x.size(), 100u);
  EXPECT_EQ(x.back(), 4999);
}

TEST_F(Report, PageHoldsEveryPlotAndTableAndItsImagesResolveInside) {
  const std::string& d = dir_->path();
  auto r = vps_cli({"report", "--run", d + "/run", "--eval", "exact=" + d + "/eval0", "--eval", "perturbed=" + d + "/eval0",
                    "--eval=perturbed=" + d + "/eval1", "--vis", d + "/vis", "--out", d + "/report", "--title", "a <test>"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string html = text_of(d + "/report/index.html");
  ParsedHtml p = parse_html(html);
  EXPECT_TRUE(p.balanced) << p.problem;
  for (const char* id : {"plot-loss", "plot-loss-terms", "plot-lr", "plot-grad-norm", "plot-grad-norm-modules", "plot-time",
                         "plot-eval", "table-vpq", "plot-vpq-bars", "table-tracking", "table-classes", "training",
                         "evaluation", "videos"})
    EXPECT_TRUE(p.ids.count(id)) << id;
  EXPECT_EQ(p.tags.count("svg"), 8u);  // the seven training and evaluation plots and the VPQ bars
  EXPECT_EQ(p.tags.count("table"), 3u);
  EXPECT_TRUE(has(html, "<title>a &lt;test&gt;</title>"));
  // the columns, the repeats as mean (range, n), every figure of the three reports
  EXPECT_TRUE(has(html, "<th>exact</th><th>perturbed</th>"));
  EXPECT_TRUE(has(html, "n=2"));
  for (const char* row : {"k=0", "k=15", "VPQ (mean over k)", "STQ", "AQ", "SQ (mIoU)", "IDF1", "ID switches", "TC"})
    EXPECT_TRUE(has(html, std::string("<td>") + row + "</td>")) << row;
  EXPECT_TRUE(has(html, "<td>100.0 / 100.0 / 100.0</td>")) << "the exact prediction's VPQ";
  // images: each reference is relative, inside the folder, and there; nothing from the network
  size_t images = 0;
  for (const std::string& ref : p.refs) {
    if (ref[0] == '#') continue;
    EXPECT_EQ(ref.find(".."), std::string::npos) << ref;
    EXPECT_NE(ref[0], '/') << ref;
    EXPECT_EQ(ref.find(':'), std::string::npos) << ref;  // no http:, file:, data: ...
    EXPECT_TRUE(vps::data::path_exists(d + "/report/" + ref)) << ref;
    ++images;
  }
  EXPECT_EQ(images, vps::data::list_files(d + "/vis", ".gif").size());
  EXPECT_GE(images, 1u);
  EXPECT_FALSE(has(html, "<script"));
  // an existing report is replaced only with --force
  r = vps_cli({"report", "--run", d + "/run", "--out", d + "/report"});
  EXPECT_EQ(r.rc, 1);
  r = vps_cli({"report", "--run", d + "/run", "--out", d + "/report", "--force"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(vps::data::path_exists(d + "/report/media"));  // the run alone: no videos this time
}

TEST_F(Report, BadInputGivesNamedErrors) {
  const std::string& d = dir_->path();
  vps::data::make_dirs(d + "/not_a_run");
  auto r = vps_cli({"report", "--run", d + "/not_a_run", "--out", d + "/r1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, d + "/not_a_run") && has(r.err, "has no log.jsonl")) << r.err;
  EXPECT_FALSE(vps::data::path_exists(d + "/r1"));
  // an eval folder of another dataset: other categories (here one class renamed) or another VPQ mode
  vps::data::make_dirs(d + "/other/vpq");
  nlohmann::json j = vps::data::read_json(d + "/eval0/vpq/vpq.json");
  for (auto& w : j["windows"]) w["per_class"][0]["name"] = "not-a-cityscapes-class";
  vps::data::write_json(d + "/other/vpq/vpq.json", j);
  r = vps_cli({"report", "--run", d + "/run", "--eval", d + "/eval0", "--eval", d + "/other", "--out", d + "/r1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, d + "/other/vpq/vpq.json") && has(r.err, "another dataset")) << r.err;
  j = vps::data::read_json(d + "/eval0/vpq/vpq.json");
  j["mode"] = "viper";
  vps::data::write_json(d + "/other/vpq/vpq.json", j);
  r = vps_cli({"report", "--run", d + "/run", "--eval", d + "/eval0", "--eval", d + "/other", "--out", d + "/r1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "viper") && has(r.err, "another dataset")) << r.err;
  // a folder that holds no report, a bad report, a vis folder without GIFs, a broken log line
  r = vps_cli({"report", "--run", d + "/run", "--eval", d + "/not_a_run", "--out", d + "/r1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, d + "/not_a_run") && has(r.err, "holds no vpq.json")) << r.err;
  vps::data::write_file_atomic(d + "/other/vpq/vpq.json", std::string("{\"mode\": \"cityscapes-vps\", \"windows\": 3}"));
  r = vps_cli({"report", "--run", d + "/run", "--eval", d + "/other", "--out", d + "/r1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, d + "/other/vpq/vpq.json")) << r.err;
  r = vps_cli({"report", "--run", d + "/run", "--vis", d + "/not_a_run", "--out", d + "/r1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, "holds no .gif")) << r.err;
  vps::data::make_dirs(d + "/torn_run");
  vps::data::write_file_atomic(d + "/torn_run/log.jsonl", std::string("{\"iter\": 1, \"loss\": 2}\n{\"loss\": 3}\n"));
  r = vps_cli({"report", "--run", d + "/torn_run", "--out", d + "/r1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(has(r.err, d + "/torn_run/log.jsonl") && has(r.err, "line 2")) << r.err;
  // the output may not be an input
  r = vps_cli({"report", "--run", d + "/run", "--out", d + "/run", "--force"});
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(vps::data::path_exists(d + "/run/log.jsonl"));
  r = vps_cli({"report", "--run", d + "/run", "--eval", "", "--out", d + "/r1"});
  EXPECT_EQ(r.rc, 2) << r.err;
}
