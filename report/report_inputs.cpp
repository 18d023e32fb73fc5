#include "report/report_inputs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "tensor/check.h"

namespace vps::report {

namespace {

using nlohmann::json;

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

double number_at(const json& j, const char* key, const std::string& where) {
  const json& v = data::json_at(j, key, where);
  VPS_CHECK(v.is_number(), where, ": \"", key, "\" is not a number");
  return v.get<double>();
}

// Numeric keys of a JSON-lines file as curves over "iter"; a line that is not an object with an integer
// "iter" is an error naming the file and the line.
void read_jsonl(const std::string& path, std::vector<std::string>& keys, std::map<std::string, Curve>& series) {
  std::vector<uint8_t> bytes = data::read_file_bytes(path);
  std::string line;
  int64_t line_no = 0;
  for (size_t i = 0; i <= bytes.size(); ++i) {
    if (i < bytes.size() && bytes[i] != '\n') {
      line += char(bytes[i]);
      continue;
    }
    ++line_no;
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    VPS_CHECK(!j.is_discarded() && j.is_object() && j.contains("iter") && j["iter"].is_number_integer(), "'", path,
              "' line ", line_no, ": not a JSON object with an integer \"iter\"");
    double it = j["iter"].get<double>();
    for (auto& [k, v] : j.items()) {
      if (k == "iter" || !v.is_number()) continue;
      if (!series.count(k)) keys.push_back(k);
      series[k].push_back({it, v.get<double>()});
    }
    line.clear();
  }
}

// `name` in dir, or in exactly one subfolder of dir ("" when absent).
std::string find_report(const std::string& dir, const std::string& name) {
  std::string direct = data::join_path(dir, name);
  if (data::path_exists(direct)) return direct;
  std::string found;
  std::error_code ec;
  std::vector<std::string> subs;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory()) subs.push_back(it->path().filename().string());
  std::sort(subs.begin(), subs.end());
  for (const auto& s : subs) {
    std::string p = data::join_path(data::join_path(dir, s), name);
    if (!data::path_exists(p)) continue;
    VPS_CHECK(found.empty(), "eval folder '", dir, "' holds two ", name, " files (", found, " and ", p,
              "): give each folder with its own --eval");
    found = p;
  }
  return found;
}

}  // namespace

RunLog read_run_log(const std::string& run_dir) {
  VPS_CHECK(is_dir(run_dir), "vps report --run: '", run_dir, "' is not a folder");
  RunLog r;
  r.dir = run_dir;
  const std::string log = data::join_path(run_dir, "log.jsonl");
  VPS_CHECK(data::path_exists(log), "vps report --run: the run folder '", run_dir,
            "' has no log.jsonl (not a folder written by vps train)");
  read_jsonl(log, r.keys, r.series);
  VPS_CHECK(!r.keys.empty(), "vps report --run: '", log, "' holds no step");
  const std::string eval = data::join_path(run_dir, "eval.jsonl");
  if (data::path_exists(eval)) read_jsonl(eval, r.eval_keys, r.eval_series);
  return r;
}

EvalFolder read_eval_folder(const std::string& dir) {
  VPS_CHECK(is_dir(dir), "vps report --eval: '", dir, "' is not a folder");
  EvalFolder f;
  f.dir = dir;
  f.vpq_json = find_report(dir, "vpq.json");
  f.stq_json = find_report(dir, "stq.json");
  f.tc_json = find_report(dir, "tc.json");
  VPS_CHECK(!f.vpq_json.empty() || !f.stq_json.empty() || !f.tc_json.empty(), "vps report --eval: '", dir,
            "' holds no vpq.json, stq.json or tc.json (nor one folder down): not an output of vps eval");
  if (!f.vpq_json.empty()) {
    const std::string& w = f.vpq_json;
    json j = data::read_json(w);
    VPS_CHECK(j.is_object(), "'", w, "' is not a JSON object");
    f.mode = data::json_at(j, "mode", w).is_string() ? j["mode"].get<std::string>() : "";
    std::map<int, std::vector<ClassFigures>> per_window;
    for (const json& win : data::json_at(j, "windows", w)) {
      std::string name = data::json_at(win, "name", w).is_string() ? win["name"].get<std::string>() : "";
      VPS_CHECK(!name.empty(), "'", w, "': a window without a \"name\"");
      f.windows.push_back(name);
      for (const char* part : {"all", "things", "stuff"})
        f.figures[name + "/" + part] = number_at(data::json_at(win, part, w), "pq", w + " " + name + "." + part);
      bool first = f.windows.size() == 1;
      for (const json& c : data::json_at(win, "per_class", w)) {
        int id = int(number_at(c, "id", w));
        std::string cname = data::json_at(c, "name", w).is_string() ? c["name"].get<std::string>() : "";
        if (first) f.categories.push_back({id, cname});
        double iou = number_at(c, "iou", w), tp = number_at(c, "tp", w), fp = number_at(c, "fp", w),
               fn = number_at(c, "fn", w);
        ClassFigures k;  // as vpq_window_text: PQ = IoU / (TP + FP/2 + FN/2), SQ = IoU / TP, RQ = TP / (...)
        k.name = cname;
        double denom = tp + 0.5 * fp + 0.5 * fn;
        if (denom > 0) {
          k.pq = 100 * iou / denom;
          k.sq = tp > 0 ? 100 * iou / tp : 0;
          k.rq = 100 * tp / denom;
        }
        per_window[id].push_back(k);
      }
    }
    for (auto& [id, ks] : per_window) {
      ClassFigures m;
      m.name = ks[0].name;
      for (const auto& k : ks) {
        m.pq += k.pq / double(ks.size());
        m.sq += k.sq / double(ks.size());
        m.rq += k.rq / double(ks.size());
      }
      f.classes[id] = m;
    }
    const json& fin = data::json_at(j, "final", w);
    f.figures["final/all"] = number_at(fin, "vpq_all", w);
    f.figures["final/things"] = number_at(fin, "vpq_thing", w);
    f.figures["final/stuff"] = number_at(fin, "vpq_stuff", w);
  }
  if (!f.stq_json.empty()) {
    const std::string& w = f.stq_json;
    json j = data::read_json(w);
    for (const char* k : {"stq", "aq", "sq_miou"}) f.figures[k] = number_at(j, k, w);
    if (j.contains("identity")) {
      f.figures["idf1"] = number_at(j["identity"], "idf1", w + " identity");
      f.figures["id_switches"] = number_at(j["identity"], "id_switches", w + " identity");
    }
  }
  if (!f.tc_json.empty()) f.figures["tc"] = number_at(data::read_json(f.tc_json), "tc", f.tc_json);
  return f;
}

std::vector<EvalColumn> read_eval_columns(const std::vector<std::string>& specs) {
  std::vector<EvalColumn> cols;
  const EvalFolder* reference = nullptr;  // the first folder with a vpq.json: the dataset all must share
  std::vector<EvalFolder> all;
  std::vector<std::string> labels;
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    std::string dir = eq == std::string::npos ? spec : spec.substr(eq + 1);
    std::string label = eq == std::string::npos ? "" : spec.substr(0, eq);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (label.empty()) label = std::filesystem::path(dir).filename().string();
    all.push_back(read_eval_folder(dir));
    labels.push_back(label);
  }
  for (const auto& f : all) {
    if (f.vpq_json.empty()) continue;
    if (!reference) {
      reference = &f;
      continue;
    }
    VPS_CHECK(f.mode == reference->mode, "vps report --eval: '", f.vpq_json, "' was scored in ", f.mode, " mode, '",
              reference->vpq_json, "' in ", reference->mode, " mode: eval folders of another dataset");
    VPS_CHECK(f.categories == reference->categories, "vps report --eval: '", f.vpq_json,
              "' has other categories than '", reference->vpq_json, "' (", f.categories.size(), " and ",
              reference->categories.size(), " classes, or other ids or names): eval folders of another dataset");
  }
  for (size_t i = 0; i < all.size(); ++i) {
    auto it = std::find_if(cols.begin(), cols.end(), [&](const EvalColumn& c) { return c.label == labels[i]; });
    if (it == cols.end()) {
      cols.push_back({labels[i], {}});
      it = cols.end() - 1;
    }
    it->folders.push_back(all[i]);
  }
  return cols;
}

Stat column_stat(const EvalColumn& c, const std::string& figure) {
  Stat s;
  for (const auto& f : c.folders) {
    auto it = f.figures.find(figure);
    if (it == f.figures.end()) continue;
    s.lo = s.n ? std::min(s.lo, it->second) : it->second;
    s.hi = s.n ? std::max(s.hi, it->second) : it->second;
    s.mean += it->second;
    ++s.n;
  }
  if (s.n) s.mean /= s.n;
  return s;
}

Stat class_stat(const EvalColumn& c, int category_id, double ClassFigures::*field) {
  Stat s;
  for (const auto& f : c.folders) {
    auto it = f.classes.find(category_id);
    if (it == f.classes.end()) continue;
    double v = it->second.*field;
    s.lo = s.n ? std::min(s.lo, v) : v;
    s.hi = s.n ? std::max(s.hi, v) : v;
    s.mean += v;
    ++s.n;
  }
  if (s.n) s.mean /= s.n;
  return s;
}

std::vector<std::string> read_vis_gifs(const std::string& vis_dir) {
  VPS_CHECK(is_dir(vis_dir), "vps report --vis: '", vis_dir, "' is not a folder");
  std::vector<std::string> gifs = data::list_files(vis_dir, ".gif");
  VPS_CHECK(!gifs.empty(), "vps report --vis: '", vis_dir, "' holds no .gif (write them with vps vis --gif)");
  return gifs;
}

}  // namespace vps::report
