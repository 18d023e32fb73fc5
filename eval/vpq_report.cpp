// Output files of `vps eval vpq`: vpq-<k>.txt and vpq-final.txt byte for byte as the official
// evaluator writes them (spec appendix), plus a machine-readable vpq.json.
#include <cstdarg>
#include <cstdio>

#include "data/fs_util.h"
#include "eval/vpq.h"

namespace vps::eval {

namespace {
std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

nlohmann::json avg_json(const PqAverage& a) {
  return {{"pq", 100 * a.pq}, {"sq", 100 * a.sq}, {"rq", 100 * a.rq}, {"n", a.n}};
}
}  // namespace

std::string vpq_window_text(const VpqWindow& w, const std::vector<data::Category>& cats, int skip_category) {
  std::string s = std::string(48, '=') + "\n";
  s += fmt("%-10s| %5s  %5s  %5s %4s\n", "", "PQ", "SQ", "RQ", "N");
  s += std::string(38, '-') + "\n";
  const std::pair<const char*, const PqAverage*> rows[] = {{"All", &w.all}, {"Things", &w.things}, {"Stuff", &w.stuff}};
  for (const auto& [name, a] : rows)
    s += fmt("%-10s| %5.1f  %5.1f  %5.1f %5d\n", name, 100 * a->pq, 100 * a->sq, 100 * a->rq, a->n);
  s += fmt("%-4s| %5s %5s %5s %6s %7s %7s %7s\n", "IDX", "PQ", "SQ", "RQ", "IoU", "TP", "FP", "FN");
  for (const auto& c : cats) {
    if (c.id == skip_category) continue;
    ClassStat k;
    auto it = w.stats.find(c.id);
    if (it != w.stats.end()) k = it->second;
    double pq = 0, sq = 0, rq = 0;
    if (k.tp + k.fp + k.fn == 0) {
      k = ClassStat{};
    } else {
      double denom = double(k.tp) + 0.5 * double(k.fp) + 0.5 * double(k.fn);
      pq = k.iou / denom;
      sq = k.tp ? k.iou / double(k.tp) : 0.0;
      rq = double(k.tp) / denom;
    }
    s += fmt("%4d | %5.1f %5.1f %5.1f %6.1f %7lld %7lld %7lld\n", c.id, 100 * pq, 100 * sq, 100 * rq, k.iou,
             (long long)k.tp, (long long)k.fp, (long long)k.fn);
  }
  return s;
}

void write_vpq_reports(const VpqResult& r, const std::string& out_dir) {
  data::make_dirs(out_dir);
  int skip = r.viper ? 11 : -1;
  nlohmann::json j = {{"mode", r.viper ? "viper" : "cityscapes-vps"}, {"windows", nlohmann::json::array()}};
  for (const auto& w : r.windows) {
    data::write_file_atomic(data::join_path(out_dir, w.name + ".txt"), vpq_window_text(w, r.categories, skip));
    nlohmann::json pc = nlohmann::json::array();
    for (const auto& c : r.categories) {
      if (c.id == skip) continue;
      auto it = w.stats.find(c.id);
      ClassStat k = it == w.stats.end() ? ClassStat{} : it->second;
      pc.push_back({{"id", c.id}, {"name", c.name}, {"iou", k.iou}, {"tp", k.tp}, {"fp", k.fp}, {"fn", k.fn}});
    }
    j["windows"].push_back({{"name", w.name},
                            {"nframes", w.nframes},
                            {"all", avg_json(w.all)},
                            {"things", avg_json(w.things)},
                            {"stuff", avg_json(w.stuff)},
                            {"per_class", pc}});
  }
  j["final"] = {{"vpq_all", r.final_all}, {"vpq_thing", r.final_thing}, {"vpq_stuff", r.final_stuff}};
  data::write_file_atomic(data::join_path(out_dir, "vpq-final.txt"),
                          fmt("vpq_all:%.4f\nvpq_thing:%.4f\nvpq_stuff:%.4f\n", r.final_all, r.final_thing,
                              r.final_stuff));
  data::write_json(data::join_path(out_dir, "vpq.json"), j, 2);
}

}  // namespace vps::eval
