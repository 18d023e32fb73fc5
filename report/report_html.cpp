#include "report/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/fs_util.h"
#include "report/svg_plot.h"

namespace vps::report {

namespace {

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                               "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

std::string fmt(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

// "mean" or "mean (lo-hi)" over the repeats; "-" when absent.
std::string cell(const Stat& s, int digits) {
  if (s.n == 0) return "-";
  std::string t = fmt(s.mean, digits);
  if (s.n > 1) t += " <span class=\"range\">(" + fmt(s.lo, digits) + "-" + fmt(s.hi, digits) + ", n=" + std::to_string(s.n) + ")</span>";
  return t;
}

std::vector<double> xs(const Curve& c) {
  std::vector<double> v;
  for (auto& p : c) v.push_back(p.first);
  return v;
}
std::vector<double> ys(const Curve& c) {
  std::vector<double> v;
  for (auto& p : c) v.push_back(p.second);
  return v;
}

// The smoothing weight TensorBoard users know (0.6) is too light for thousands of noisy steps.
double smoothing_for(size_t n) { return n > 2000 ? 0.98 : n > 200 ? 0.9 : 0.6; }

std::string figure(const std::string& id, const std::string& svg, const std::string& caption) {
  return "<figure id=\"" + id + "\">\n" + svg + "<figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
}

// A curve raw (light) and smoothed (dark), with a log y axis when it spans a wide range.
std::string raw_and_smoothed(const std::string& id, const std::string& title, const Curve& c) {
  std::vector<double> x = xs(c), y = ys(c), s = smooth(y, smoothing_for(y.size()));
  PlotOptions o;
  o.title = title;
  o.y_label = title;
  o.log_y = wants_log_scale(y);
  std::vector<double> xr = x, xs2 = x;
  thin_out(xr, y, 1500);
  thin_out(xs2, s, 1500);
  Series raw{"raw", xr, y, "#1f77b4", 1.0, 0.35}, sm{"smoothed", xs2, s, "#1f77b4", 2.0, 1.0};
  return figure(id, svg_line_plot({raw, sm}, o),
                title + ": raw and smoothed (EMA " + fmt(smoothing_for(y.size()), 2) + ")" + (o.log_y ? ", log scale" : ""));
}

// Several curves, each smoothed, in one plot.
std::string smoothed_group(const std::string& id, const std::string& title, const RunLog& r,
                           const std::vector<std::string>& keys, const std::string& strip_prefix) {
  std::vector<Series> series;
  std::vector<double> every;
  for (size_t i = 0; i < keys.size(); ++i) {
    const Curve& c = r.series.at(keys[i]);
    std::vector<double> x = xs(c), y = ys(c), s = smooth(y, smoothing_for(y.size()));
    every.insert(every.end(), s.begin(), s.end());
    thin_out(x, s, 1000);
    series.push_back({keys[i].substr(strip_prefix.size()), x, s, kColors[i % 10], 1.5, 1.0});
  }
  PlotOptions o;
  o.title = title;
  o.y_label = title;
  o.log_y = wants_log_scale(every);
  o.height = 300;
  return figure(id, svg_line_plot(series, o), title + " (smoothed)" + (o.log_y ? ", log scale" : ""));
}

std::string training_section(const RunLog& r) {
  std::string h = "<h2 id=\"training\">Training</h2>\n<p>Run folder <code>" + html_escape(r.dir) + "</code>: " +
                  std::to_string(r.series.begin()->second.size()) + " logged steps.</p>\n<div class=\"plots\">\n";
  auto has = [&](const std::string& k) { return r.series.count(k) > 0; };
  if (has("loss")) h += raw_and_smoothed("plot-loss", "loss", r.series.at("loss"));
  std::vector<std::string> terms, modules;
  for (const auto& k : r.keys) {
    if (k != "loss" && k.find("loss") != std::string::npos) terms.push_back(k);
    if (k.rfind("grad_norm.", 0) == 0) modules.push_back(k);
  }
  if (!terms.empty()) h += smoothed_group("plot-loss-terms", "loss terms", r, terms, "");
  if (has("lr")) {
    PlotOptions o;
    o.title = "learning rate";
    o.y_label = "lr";
    Series s{"lr", xs(r.series.at("lr")), ys(r.series.at("lr")), "#2ca02c", 1.5, 1.0};
    thin_out(s.x, s.y, 1500);
    h += figure("plot-lr", svg_line_plot({s}, o), "learning rate (the schedule: warmup and steps)");
  }
  if (has("grad_norm")) h += raw_and_smoothed("plot-grad-norm", "grad_norm", r.series.at("grad_norm"));
  if (!modules.empty()) h += smoothed_group("plot-grad-norm-modules", "gradient norm per module", r, modules, "grad_norm.");
  std::vector<std::string> times;
  for (const char* k : {"step_time", "data_time"})
    if (has(k)) times.push_back(k);
  if (!times.empty()) h += smoothed_group("plot-time", "seconds per step", r, times, "");
  if (!r.eval_keys.empty()) {
    std::vector<Series> ss;
    for (size_t i = 0; i < r.eval_keys.size(); ++i) {
      const Curve& c = r.eval_series.at(r.eval_keys[i]);
      ss.push_back({r.eval_keys[i], xs(c), ys(c), kColors[i % 10], 2.0, 1.0});  // vpq, vpq_stuff, vpq_thing
    }
    PlotOptions o;
    o.title = "evaluation during training (eval.jsonl)";
    o.y_label = "VPQ";
    h += figure("plot-eval", svg_line_plot(ss, o), "--eval-every: VPQ on the eval split");
  }
  return h + "</div>\n";
}

std::string table_head(const std::string& id, const std::string& first, const std::vector<EvalColumn>& cols) {
  std::string h = "<table id=\"" + id + "\">\n<thead><tr><th>" + html_escape(first) + "</th>";
  for (const auto& c : cols) h += "<th>" + html_escape(c.label) + "</th>";
  return h + "</tr></thead>\n<tbody>\n";
}

std::string evaluation_section(const std::vector<EvalColumn>& cols) {
  std::string h = "<h2 id=\"evaluation\">Evaluation</h2>\n<p>One column per label; folders sharing a label are "
                  "repeats (seeds): the mean, with the range and the count.</p>\n<h3>Eval folders</h3>\n<ul>\n";
  for (const auto& c : cols)
    for (const auto& f : c.folders) h += "<li>" + html_escape(c.label) + ": <code>" + html_escape(f.dir) + "</code></li>\n";
  h += "</ul>\n";
  std::vector<std::string> windows;
  const EvalFolder* with_vpq = nullptr;
  for (const auto& c : cols)
    for (const auto& f : c.folders)
      if (!with_vpq && !f.vpq_json.empty()) with_vpq = &f;
  if (with_vpq) {
    h += "<h3>VPQ per window k (all / things / stuff)</h3>\n" + table_head("table-vpq", "window", cols);
    std::vector<std::string> rows = with_vpq->windows;
    rows.push_back("final");
    for (const auto& w : rows) {
      h += "<tr><td>" + html_escape(w == "final" ? "VPQ (mean over k)" : "k=" + w.substr(w.find('-') + 1)) + "</td>";
      for (const auto& c : cols)
        h += "<td>" + cell(column_stat(c, w + "/all"), 1) + " / " + cell(column_stat(c, w + "/things"), 1) + " / " +
             cell(column_stat(c, w + "/stuff"), 1) + "</td>";
      h += "</tr>\n";
    }
    h += "</tbody></table>\n";
    std::vector<Bar> bars;
    for (const auto& c : cols) {
      Stat s = column_stat(c, "final/all");
      if (s.n) bars.push_back({c.label, s.mean, s.lo, s.hi, s.n});
    }
    PlotOptions o;
    o.title = "VPQ per column";
    o.y_label = "VPQ";
    o.width = std::max(360, 90 * int(bars.size()) + 80);
    h += "<div class=\"plots\">" +
         figure("plot-vpq-bars", svg_bar_chart(bars, o), "final VPQ per column: the mean, a line over the range of repeats") +
         "</div>\n";
  }
  const std::pair<const char*, const char*> tracking[] = {
      {"stq", "STQ"}, {"aq", "AQ"}, {"sq_miou", "SQ (mIoU)"}, {"idf1", "IDF1"}, {"id_switches", "ID switches"}, {"tc", "TC"}};
  std::string rows;
  for (const auto& [key, name] : tracking) {
    bool any = false;
    for (const auto& c : cols) any = any || column_stat(c, key).n > 0;
    if (!any) continue;
    rows += std::string("<tr><td>") + name + "</td>";
    for (const auto& c : cols) {
      Stat st = column_stat(c, key);
      int digits = std::string(key) != "id_switches" ? 3 : st.n > 1 ? 1 : 0;  // a count, unless a mean of counts
      rows += "<td>" + cell(st, digits) + "</td>";
    }
    rows += "</tr>\n";
  }
  if (!rows.empty())
    h += "<h3>Segmentation and tracking (STQ, AQ, identities, temporal consistency)</h3>\n" +
         table_head("table-tracking", "figure", cols) + rows + "</tbody></table>\n";
  if (with_vpq) {
    h += "<h3>Per class: PQ / SQ / RQ (mean over the windows k)</h3>\n" + table_head("table-classes", "class", cols);
    for (const auto& [id, name] : with_vpq->categories) {
      h += "<tr><td>" + std::to_string(id) + " " + html_escape(name) + "</td>";
      for (const auto& c : cols)
        h += "<td>" + cell(class_stat(c, id, &ClassFigures::pq), 1) + " / " + cell(class_stat(c, id, &ClassFigures::sq), 1) +
             " / " + cell(class_stat(c, id, &ClassFigures::rq), 1) + "</td>";
      h += "</tr>\n";
    }
    h += "</tbody></table>\n";
  }
  return h;
}

std::string videos_section(const ReportInputs& in) {
  std::string h = "<h2 id=\"videos\">Videos: GT | prediction</h2>\n<p>From <code>" + html_escape(in.vis_dir) +
                  "</code> (vps vis --side-by-side --gif).</p>\n<div class=\"videos\">\n";
  for (const auto& g : in.gifs)
    h += "<figure class=\"video\"><img src=\"media/" + html_escape(g) + "\" alt=\"" + html_escape(g) +
         "\"><figcaption>" + html_escape(g) + "</figcaption></figure>\n";
  return h + "</div>\n";
}

}  // namespace

std::string report_html(const ReportInputs& in) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(in.title) +
      "</title>\n<style>\nbody{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}\n"
      "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "td:first-child,th:first-child{text-align:left}th{background:#f0f0f0}\n.range{color:#777;font-size:85%}\n"
      ".plots,.videos{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;color:#555}\n"
      "img{image-rendering:pixelated;max-width:100%}\n</style>\n</head>\n<body>\n<h1>" + html_escape(in.title) + "</h1>\n"
      "<p><a href=\"#training\">training</a>" + std::string(in.evals.empty() ? "" : " | <a href=\"#evaluation\">evaluation</a>") +
      std::string(in.gifs.empty() ? "" : " | <a href=\"#videos\">videos</a>") + "</p>\n";
  h += training_section(in.run);
  if (!in.evals.empty()) h += evaluation_section(in.evals);
  if (!in.gifs.empty()) h += videos_section(in);
  return h + "</body>\n</html>\n";
}

void write_report_files(const ReportInputs& in, const std::string& out_dir) {
  data::make_dirs(out_dir);
  if (!in.gifs.empty()) {
    const std::string media = data::join_path(out_dir, "media");
    data::make_dirs(media);
    for (const auto& g : in.gifs) {
      std::vector<uint8_t> b = data::read_file_bytes(data::join_path(in.vis_dir, g));
      data::write_file_atomic(data::join_path(media, g), b.data(), b.size());
    }
  }
  data::write_file_atomic(data::join_path(out_dir, "index.html"), report_html(in));
}

}  // namespace vps::report
