// What `vps report` reads: a training run folder (log.jsonl, eval.jsonl), the output folders of
// `vps eval vpq|stq|tc` (one report column per label; folders sharing a label are repeats, e.g. seeds,
// shown as means with their ranges) and a `vps vis` folder (its GIFs). Bad input is refused naming the
// file and the key: a run folder without a log, an eval folder without any report, eval folders
// scored on different datasets (VPQ mode or category lists that differ).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace vps::report {

using Curve = std::vector<std::pair<double, double>>;  // (iteration, value)

struct RunLog {
  std::string dir;
  std::vector<std::string> keys;        // numeric keys of log.jsonl in first-seen order ("iter" excluded)
  std::map<std::string, Curve> series;  // key -> its values over the iterations
  std::vector<std::string> eval_keys;   // of eval.jsonl (--eval-every), when present
  std::map<std::string, Curve> eval_series;
};
// Throws naming the folder when it holds no log.jsonl, and the file and line for a bad line.
RunLog read_run_log(const std::string& run_dir);

struct ClassFigures {
  std::string name;
  double pq = 0, sq = 0, rq = 0;  // percent, mean over the VPQ windows (as VPQ itself)
};

// The reports of one eval folder (each part present or not).
struct EvalFolder {
  std::string dir;
  std::string vpq_json, stq_json, tc_json;  // the files read ("" when absent)
  std::string mode;                         // vpq.json's: cityscapes-vps | viper
  std::vector<std::pair<int, std::string>> categories;  // vpq.json's per_class (id, name)
  std::vector<std::string> windows;                     // "vpq-0", "vpq-5", ...
  std::map<std::string, double> figures;    // "vpq-0/all", ..., "final/all", "stq", "aq", "sq_miou", "idf1", "id_switches", "tc"
  std::map<int, ClassFigures> classes;      // category id -> per-class figures
};
// Reads vpq.json, stq.json and tc.json from `dir` or from its subfolders one level down (an ablation
// run's vpq/ and tc/); throws when none is there, or when one kind is found twice.
EvalFolder read_eval_folder(const std::string& dir);

struct EvalColumn {
  std::string label;
  std::vector<EvalFolder> folders;
};
// specs: "[LABEL=]DIR"; the label defaults to the folder's name; folders with the same label make one
// column. Every folder must be scored on the same dataset as the first (mode, category ids and names).
std::vector<EvalColumn> read_eval_columns(const std::vector<std::string>& specs);

struct Stat {
  double mean = 0, lo = 0, hi = 0;
  int n = 0;  // folders of the column that have the figure (0: absent)
};
Stat column_stat(const EvalColumn& c, const std::string& figure);
Stat class_stat(const EvalColumn& c, int category_id, double ClassFigures::*field);

// The GIFs of a `vps vis --gif` folder (sorted names); throws when there is none.
std::vector<std::string> read_vis_gifs(const std::string& vis_dir);

}  // namespace vps::report
