// Video Panoptic Quality, identical to mcahny/vps tools/eval_vpq.py after its 2020-09-30 fix
// (spec section 5): windows of 1..4 labelled frames (k = 0, 5, 10, 15), tube matching with IoU > 0.5 and
// void removed from the union, crowd handling, per-category sums over all windows of all videos.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eval/pan_set.h"

namespace vps::eval {

struct ClassStat {
  double iou = 0;
  int64_t tp = 0, fp = 0, fn = 0;
};
using CatStats = std::map<int, ClassStat>;

// One labelled frame reduced to what matching needs: sorted (gt_id << 24 | pred_id) -> pixel count,
// GT segments (duplicates merged, json order, json areas) and prediction segments (areas from the PNG).
struct FrameStats {
  std::vector<std::pair<uint64_t, int64_t>> pairs;
  std::vector<SegInfo> gt, pred;
};

// Builds FrameStats from id maps, applying the official prediction sanity checks (PNG id not in the
// json, json id not in the PNG, unknown category). `where` names the frame in errors.
FrameStats frame_stats(const std::vector<uint32_t>& gt_ids, const std::vector<uint32_t>& pred_ids,
                       const std::vector<SegInfo>& gt_segs, const std::vector<SegInfo>& pred_segs,
                       const std::vector<data::Category>& cats, const std::string& where);
// Loads both PNGs of a frame and calls frame_stats.
FrameStats load_frame_stats(const PanFrame& f, const std::vector<data::Category>& cats, int64_t max_pixels);

// Sums the statistics of every window of `nframes` consecutive frames of one video, in window order.
// viper: GT tubes under 32x32 pixels are ignored (neither matched nor counted as FN).
CatStats vpq_video(const FrameStats* frames, size_t count, int nframes, bool viper = false);
inline CatStats vpq_video(const std::vector<FrameStats>& frames, int nframes, bool viper = false) {
  return vpq_video(frames.data(), frames.size(), nframes, viper);
}

struct PqAverage {
  double pq = 0, sq = 0, rq = 0;
  int n = 0;
};
// PQStat.pq_average: mean over the categories (json order) with TP+FP+FN > 0. which: 0 all, 1 things,
// 2 stuff. skip_category: excluded id (VIPER excludes 11), -1 for none. n == 0 gives zeros.
PqAverage pq_average(const CatStats& s, const std::vector<data::Category>& cats, int which, int skip_category = -1);

struct VpqOptions {
  int video_len = 6;                   // labelled frames per video
  std::vector<int> windows{1, 2, 3, 4};
  bool viper = false;                  // VIPER mode: windows 5/10/15, small tubes ignored, class 11 skipped
  int threads = 0;                     // 0: OpenMP default
};

struct VpqWindow {
  int nframes = 1;
  std::string name;  // output file stem, e.g. "vpq-5"
  CatStats stats;
  PqAverage all, things, stuff;
};

struct VpqResult {
  std::vector<data::Category> categories;
  std::vector<VpqWindow> windows;
  double final_all = 0, final_thing = 0, final_stuff = 0;  // percentages, mean over windows
  bool viper = false;
};

VpqResult evaluate_vpq(const PanSet& set, const VpqOptions& opt);
// Writes <name>.txt per window, vpq-final.txt (byte-compatible with the official files) and vpq.json.
void write_vpq_reports(const VpqResult& r, const std::string& out_dir);
// The text of one vpq-<k>.txt file.
std::string vpq_window_text(const VpqWindow& w, const std::vector<data::Category>& cats, int skip_category);

}  // namespace vps::eval
