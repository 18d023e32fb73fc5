// Systematically perturbed predictions made from a GT panoptic set, to check that each VPQ/STQ number
// moves the way its definition says (and to benchmark the evaluator on a non-trivial prediction).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vps::eval {

enum class Perturb {
  kNone,    // GT copied as the prediction (crowd segments become ordinary segments)
  kDrop,    // selected thing objects removed (pixels become void) in every frame
  kSwap,    // selected thing objects get a new id from the middle of their video on
  kErode,   // every thing mask eroded by `radius` pixels (removed pixels become void)
  kClass,   // selected thing objects get the next thing class
  kMerge,   // per video and class, selected objects share the id of the first object of that class
};

// Parses "none", "drop", "swap", "erode", "class" or "merge"; throws naming the text otherwise.
Perturb parse_perturb(const std::string& s);

struct PerturbOptions {
  std::vector<Perturb> modes{Perturb::kNone};
  int percent = 50;   // share of thing objects selected (by a hash of their GT id)
  int radius = 2;     // erosion radius in pixels
  int video_len = 6;  // labelled frames per video (as in the evaluator)
  int64_t max_pixels = int64_t(1) << 27;  // per GT PNG, checked before decoding
};

// Reads the GT (panoptic_video folder + GT json) and writes out_dir/pan_pred/<image id>.png and
// out_dir/pred.json in the evaluator's input format.
void write_perturbed_prediction(const std::string& gt_dir, const std::string& gt_json, const std::string& out_dir,
                                const PerturbOptions& opt);

}  // namespace vps::eval
