// The page of `vps report`: one self-contained HTML file (inline CSS and SVG, no script, no network)
// with the training curves, the evaluation tables and the videos (GIFs copied beside it under media/).
#pragma once
#include <string>
#include <vector>

#include "report/report_inputs.h"

namespace vps::report {

struct ReportInputs {
  std::string title = "vps report";
  RunLog run;
  std::vector<EvalColumn> evals;      // may be empty
  std::string vis_dir;                // "" when none
  std::vector<std::string> gifs;      // file names in vis_dir
};

// The HTML; images are referenced as media/<name>.
std::string report_html(const ReportInputs& in);
// Writes <out_dir>/index.html and copies the GIFs to <out_dir>/media/ (out_dir is the OutputDir's
// temporary folder: the command commits it as a whole).
void write_report_files(const ReportInputs& in, const std::string& out_dir);

}  // namespace vps::report
