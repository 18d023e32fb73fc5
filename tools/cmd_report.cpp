// `vps report --run RUN [--eval [LABEL=]DIR]... [--vis DIR] --out DIR`: flags only; the page is built by
// report/ (report_inputs.h reads, report_html.h writes).
#include <cstdio>

#include "data/fs_util.h"
#include "report/report_html.h"
#include "tools/command.h"

namespace {

// --eval may be given several times (one column per label), which cli::Flags refuses for a flag: its
// values are taken out of the arguments here, before the other flags are parsed.
std::vector<std::string> take_repeated(std::vector<std::string>& args, const std::string& name) {
  std::vector<std::string> values, rest;
  const std::string flag = "--" + name, with_value = flag + "=";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag) {
      if (i + 1 >= args.size()) throw vps::cli::UsageError("vps report: flag " + flag + " needs a value");
      values.push_back(args[++i]);
    } else if (args[i].rfind(with_value, 0) == 0) {
      values.push_back(args[i].substr(with_value.size()));
    } else {
      rest.push_back(args[i]);
    }
  }
  for (const auto& v : values)
    if (v.empty() || v.back() == '=') throw vps::cli::UsageError("vps report: --" + name + " needs a folder, got '" + v + "'");
  args = rest;
  return values;
}

int run_report(const std::vector<std::string>& argv) {
  vps::cli::Flags f("report",
                    "One self-contained HTML page of a training run and its results: loss and lr curves (inline SVG), the\n"
                    "evaluation tables of vps eval vpq|stq|tc folders (one column per label; folders sharing a label are\n"
                    "repeats such as seeds: mean and range) and the GIFs of a vps vis folder. Writes OUT/index.html and OUT/media/.");
  f.opt("run", "", "training run folder (log.jsonl, and eval.jsonl when trained with --eval-every)", true)
      .opt("eval", "", "[LABEL=]DIR: an output folder of vps eval vpq, stq or tc (or one holding them one level down); repeatable")
      .opt("vis", "", "a vps vis --gif folder: its GIFs go into the report")
      .opt("title", "vps report", "the page's title")
      .opt("out", "", "output folder (index.html, media/)", true)
      .flag("force", "replace a non-empty --out folder as a whole");
  std::vector<std::string> args = argv;
  std::vector<std::string> evals = take_repeated(args, "eval");
  if (!f.parse(args)) return 0;
  std::vector<std::string> inputs = {f.get("run"), f.get("vis")};
  for (const auto& e : evals) inputs.push_back(e.find('=') == std::string::npos ? e : e.substr(e.find('=') + 1));
  vps::data::OutputDir out(f.get("out"), f.on("force"), inputs);
  vps::report::ReportInputs in;
  in.title = f.get("title");
  in.run = vps::report::read_run_log(f.get("run"));
  in.evals = vps::report::read_eval_columns(evals);
  in.vis_dir = f.get("vis");
  if (!in.vis_dir.empty()) in.gifs = vps::report::read_vis_gifs(in.vis_dir);
  vps::report::write_report_files(in, out.path());
  out.commit();
  std::printf("vps report: %s\n", vps::data::join_path(out.final_path(), "index.html").c_str());
  return 0;
}

}  // namespace

VPS_COMMAND("report", "one HTML page of a run: training curves, evaluation tables, GT | prediction videos", run_report);
