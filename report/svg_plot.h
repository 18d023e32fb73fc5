// Inline SVG charts for `vps report` (report/report_html.h): line plots of training curves (raw and
// smoothed, linear or log y) and bar charts of means with their ranges. Plain strings, no scripts, so the
// page needs no network and no JavaScript.
#pragma once
#include <string>
#include <vector>

namespace vps::report {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::string color = "#1f77b4";
  double width = 1.5;
  double opacity = 1.0;
};

struct PlotOptions {
  std::string title, x_label = "iteration", y_label;
  bool log_y = false;
  int width = 560, height = 260;
};

// TensorBoard's smoothing: an exponential moving average with weight `w`, debiased at the start.
std::vector<double> smooth(const std::vector<double>& y, double w);
// A log y axis helps when every value is positive and they span more than a factor of 20.
bool wants_log_scale(const std::vector<double>& y);
// At most `max_points` evenly spaced points of (x, y) (the last one kept): a long log stays a small SVG.
void thin_out(std::vector<double>& x, std::vector<double>& y, size_t max_points);
std::string svg_line_plot(const std::vector<Series>& series, const PlotOptions& o);

struct Bar {
  std::string label;
  double mean = 0, lo = 0, hi = 0;  // lo..hi drawn as a range line when n > 1
  int n = 1;
};
std::string svg_bar_chart(const std::vector<Bar>& bars, const PlotOptions& o);

// Text for HTML and SVG: & < > " escaped.
std::string html_escape(const std::string& s);

}  // namespace vps::report
