// Temporal consistency (TC, Liu et al. ECCV'20; docs/data-and-eval.md): the mIoU
// between the semantic prediction of a frame and the prediction of a later frame warped onto it by the
// forward flow (data/flow_io.h: target = the earlier frame, reference = the later), accumulated over all
// pairs. Two modes, and every report says which:
//   etc:   ETC's eval_tc.py as coded: bilinear warp of the label ids (resample2d, then cast to uint8),
//          no occlusion mask, intersectionAndUnion(P_t, warped, K, ignore 255), all K classes in the mean
//          (classes absent from both count as 0);
//   clean: nearest warp, only pixels the flow marks valid and where neither map is void, the mean over
//          the classes present in either map.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/flow_io.h"
#include "data/image_io.h"

namespace vps::eval {

enum class TcMode { etc, clean };

// Per-class counts of all pairs so far.
struct TcCounts {
  std::vector<int64_t> inter, uni;  // K classes
  int64_t pairs = 0;
};

// Adds one pair: semantic maps (class index 0..K-1, 255 void) of target and reference on the flow's
// grid (width x height of f.flow). Sizes are checked (the error names `what`).
void add_tc_pair(const std::vector<uint8_t>& target, const std::vector<uint8_t>& reference,
                 const data::PairFlow& f, TcMode mode, int num_classes, TcCounts* c, const std::string& what);

// TC of the counts: the mean of I / (U + 1e-10) over all classes (etc) or over those with U > 0 (clean).
double tc_value(const TcCounts& c, TcMode mode);

struct TcOptions {
  TcMode mode = TcMode::clean;
  int video_len = 6;  // labelled frames per video, as vps eval vpq
  int step = 1;       // pairs (frame i, frame i + step) of one video, in labelled frames
  int64_t max_pixels = data::ImageLimits{}.max_pixels;
};

struct TcReport {
  double tc = 0;
  TcCounts counts;
  std::vector<std::string> class_names;
};

// The prediction (pan_pred/ + pred.json, semantic class = its segment's category) of the GT json's
// frames; the flow of each pair from flow_dir, refused (naming the file) when it was made for another
// pair or for a grid other than the prediction's size times its scale. Semantic maps are sampled to
// the flow grid (nearest) when the flow has a scale other than 1.
TcReport evaluate_tc(const std::string& pred_dir, const std::string& gt_json, const std::string& flow_dir,
                     const TcOptions& o);

// `vps eval tc`'s report: out_dir/tc.json with the mode, TC, pair count, step and each class's
// intersection and union.
void write_tc_report(const TcReport& r, const TcOptions& o, const std::string& out_dir);

}  // namespace vps::eval
