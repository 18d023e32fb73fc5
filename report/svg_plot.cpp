#include "report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace vps::report {

namespace {

std::string num(double v, const char* f = "%.1f") {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// A short label for an axis tick.
std::string tick_label(double v) {
  if (v == 0) v = 0.0;  // -0.0 (a tick at ceil(-0.3) * step) prints as "-0"
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) return num(v, "%.0e");
  if (a >= 100 || v == std::floor(v)) return num(v, "%.0f");
  return num(v, a >= 1 ? "%.2f" : "%.3g");
}

// Up to about `n` round tick values covering [lo, hi].
// integers: no step below 1 (iterations).
std::vector<double> nice_ticks(double lo, double hi, int n, bool integers = false) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  double step = std::pow(10.0, std::floor(std::log10((hi - lo) / n)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if ((hi - lo) / (step * m) <= n) {
      step *= m;
      break;
    }
  if (integers) step = std::max(step, 1.0);
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
  return t;
}

struct Frame {
  double x0, x1, y0, y1;  // data range
  bool log_y;
  int left = 60, right = 12, top = 28, bottom = 40, width = 0, height = 0;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  double py(double y) const {
    double v = log_y ? std::log10(y) : y, a = log_y ? std::log10(y0) : y0, b = log_y ? std::log10(y1) : y1;
    return height - bottom - (v - a) / (b - a) * (height - top - bottom);
  }
};

std::string open_svg(const PlotOptions& o) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"" + std::to_string(o.width) + "\" height=\"" +
         std::to_string(o.height) + "\" viewBox=\"0 0 " + std::to_string(o.width) + " " + std::to_string(o.height) +
         "\" role=\"img\" aria-label=\"" + html_escape(o.title) + "\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
         "<text x=\"" + std::to_string(o.width / 2) + "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">" +
         html_escape(o.title) + "</text>\n";
}

std::string axes(const Frame& f, const PlotOptions& o, bool x_ticks = true) {
  std::string s;
  std::vector<double> yt;
  if (f.log_y) {
    for (double e = std::floor(std::log10(f.y0)); e <= std::ceil(std::log10(f.y1)); ++e) {
      double v = std::pow(10.0, e);
      if (v >= f.y0 * 0.999 && v <= f.y1 * 1.001) yt.push_back(v);
    }
    if (yt.size() < 2) yt = {f.y0, f.y1};
  } else {
    yt = nice_ticks(f.y0, f.y1, 5);
  }
  for (double v : yt)
    s += "<line x1=\"" + num(f.left) + "\" x2=\"" + num(f.width - f.right) + "\" y1=\"" + num(f.py(v)) + "\" y2=\"" +
         num(f.py(v)) + "\" stroke=\"#ddd\"/><text x=\"" + num(f.left - 4) + "\" y=\"" + num(f.py(v) + 4) +
         "\" text-anchor=\"end\" font-size=\"10\">" + tick_label(v) + "</text>\n";
  for (double v : x_ticks ? nice_ticks(f.x0, f.x1, 6, true) : std::vector<double>{})
    s += "<text x=\"" + num(f.px(v)) + "\" y=\"" + num(f.height - f.bottom + 14) +
         "\" text-anchor=\"middle\" font-size=\"10\">" + tick_label(v) + "</text>\n";
  s += "<rect x=\"" + num(f.left) + "\" y=\"" + num(f.top) + "\" width=\"" + num(f.width - f.left - f.right) +
       "\" height=\"" + num(f.height - f.top - f.bottom) + "\" fill=\"none\" stroke=\"#888\"/>\n";
  s += "<text x=\"" + num((f.left + f.width - f.right) / 2.0) + "\" y=\"" + num(f.height - 6) +
       "\" text-anchor=\"middle\" font-size=\"11\">" + html_escape(o.x_label) + "</text>\n";
  s += "<text x=\"12\" y=\"" + num((f.top + f.height - f.bottom) / 2.0) + "\" font-size=\"11\" text-anchor=\"middle\" "
       "transform=\"rotate(-90 12 " + num((f.top + f.height - f.bottom) / 2.0) + ")\">" +
       html_escape(o.y_label + (f.log_y ? " (log)" : "")) + "</text>\n";
  return s;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::vector<double> smooth(const std::vector<double>& y, double w) {
  std::vector<double> out(y.size());
  double last = 0, debias = 1;
  for (size_t i = 0; i < y.size(); ++i) {
    last = last * w + (1 - w) * y[i];
    debias *= w;
    out[i] = last / (1 - debias);
  }
  return out;
}

bool wants_log_scale(const std::vector<double>& y) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (double v : y) {
    if (!(v > 0) || !std::isfinite(v)) return false;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return !y.empty() && hi > 20 * lo;
}

void thin_out(std::vector<double>& x, std::vector<double>& y, size_t max_points) {
  if (x.size() <= max_points || max_points < 2) return;
  std::vector<double> nx, ny;
  double stride = double(x.size() - 1) / double(max_points - 1);
  for (size_t k = 0; k < max_points; ++k) {
    size_t i = std::min(x.size() - 1, size_t(std::llround(double(k) * stride)));
    nx.push_back(x[i]);
    ny.push_back(y[i]);
  }
  x.swap(nx);
  y.swap(ny);
}

std::string svg_line_plot(const std::vector<Series>& series, const PlotOptions& o) {
  Frame f{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
          std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), o.log_y};
  f.width = o.width;
  f.height = o.height;
  const bool legend = series.size() > 2;  // raw + smoothed fit inside; more names go right of the plot
  if (legend) f.right = 120;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (o.log_y && !(s.y[i] > 0))) continue;
      f.x0 = std::min(f.x0, s.x[i]);
      f.x1 = std::max(f.x1, s.x[i]);
      f.y0 = std::min(f.y0, s.y[i]);
      f.y1 = std::max(f.y1, s.y[i]);
    }
  std::string svg = open_svg(o);
  if (!(f.x1 >= f.x0)) return svg + "<text x=\"20\" y=\"60\" font-size=\"12\">no data</text></svg>\n";
  if (f.x1 == f.x0) f.x1 = f.x0 + 1;
  if (f.y1 == f.y0) {
    f.y0 = o.log_y ? f.y0 / 2 : f.y0 - 1;
    f.y1 = o.log_y ? f.y1 * 2 : f.y1 + 1;
  } else if (!o.log_y) {
    double pad = 0.05 * (f.y1 - f.y0);
    f.y0 -= pad;
    f.y1 += pad;
  }
  svg += axes(f, o);
  int legend_y = f.top + 14;
  for (const auto& s : series) {
    std::string pts;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (o.log_y && !(s.y[i] > 0))) continue;
      pts += num(f.px(s.x[i])) + "," + num(f.py(s.y[i])) + " ";
    }
    svg += "<polyline class=\"series\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"" + num(s.width) +
           "\" stroke-opacity=\"" + num(s.opacity, "%.2f") + "\" points=\"" + pts + "\"><title>" + html_escape(s.name) +
           "</title></polyline>\n";
    if (!s.name.empty()) {
      svg += "<text x=\"" + num(legend ? f.width - f.right + 6 : f.width - f.right - 6) + "\" y=\"" +
             std::to_string(legend_y) + "\" text-anchor=\"" + (legend ? "start" : "end") + "\" font-size=\"10\" fill=\"" +
             s.color + "\">" + html_escape(s.name) + "</text>\n";
      legend_y += 12;
    }
  }
  return svg + "</svg>\n";
}

std::string svg_bar_chart(const std::vector<Bar>& bars, const PlotOptions& o) {
  Frame f{-0.5, double(bars.size()) - 0.5, 0, 1, false};
  f.width = o.width;
  f.height = o.height;
  for (const auto& b : bars) f.y1 = std::max({f.y1, b.hi * 1.1, b.mean * 1.1});
  std::string svg = open_svg(o);
  if (bars.empty()) return svg + "<text x=\"20\" y=\"60\" font-size=\"12\">no data</text></svg>\n";
  PlotOptions no_x = o;
  no_x.x_label = "";
  svg += axes(f, no_x, false);
  const double w = 0.6 * (f.px(1) - f.px(0));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    double cx = f.px(double(i));
    svg += "<rect class=\"bar\" x=\"" + num(cx - w / 2) + "\" y=\"" + num(f.py(b.mean)) + "\" width=\"" + num(w) +
           "\" height=\"" + num(f.py(0) - f.py(b.mean)) + "\" fill=\"#4c78a8\"><title>" + html_escape(b.label) + ": " +
           num(b.mean, "%.2f") + "</title></rect>\n";
    if (b.n > 1)
      svg += "<line class=\"range\" x1=\"" + num(cx) + "\" x2=\"" + num(cx) + "\" y1=\"" + num(f.py(b.lo)) + "\" y2=\"" +
             num(f.py(b.hi)) + "\" stroke=\"black\" stroke-width=\"2\"/>\n";
    svg += "<text x=\"" + num(cx) + "\" y=\"" + num(f.height - f.bottom + 14) +
           "\" text-anchor=\"middle\" font-size=\"10\">" + html_escape(b.label) + "</text>\n";
  }
  return svg + "</svg>\n";
}

}  // namespace vps::report
