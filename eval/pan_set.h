// Loading a prediction/GT pair the way the official Cityscapes-VPS evaluator (tools/eval_vpq.py) does:
// GT PNG names from the GT json (sorted), prediction PNGs as pan_pred/<images[].id>.png in json order,
// annotations zipped by position and cut into videos with numpy.array_split semantics.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/panoptic.h"

namespace vps::eval {

struct SegInfo {
  uint32_t id = 0;
  int category_id = 0;
  int iscrowd = 0;
  int64_t area = 0;
};

struct PanFrame {
  std::string image_id;             // GT images[i].id
  std::string gt_png, pred_png;     // full paths
  std::vector<SegInfo> gt_segs;     // segments_info in json order (duplicates kept)
  std::vector<SegInfo> pred_segs;
};

struct PanSet {
  std::vector<data::Category> categories;      // GT json order
  std::vector<PanFrame> frames;
  std::vector<std::pair<size_t, size_t>> videos;  // [begin, end) into frames
};

// numpy.array_split(range(n), parts) boundaries: the first n % parts chunks get one extra element.
std::vector<std::pair<size_t, size_t>> array_split(size_t n, size_t parts);

// pred_dir holds pan_pred/ and pred.json; gt_dir is the panoptic_video folder. video_len: labelled
// frames per video (6 for Cityscapes-VPS; videos = len // video_len). Errors name the file and key.
PanSet load_pan_set(const std::string& pred_dir, const std::string& gt_dir, const std::string& gt_json,
                    int video_len);

// Loads a panoptic PNG as segment ids; checks its size when expect_w > 0.
std::vector<uint32_t> load_ids(const std::string& png, int expect_w, int expect_h, int* w, int* h);

}  // namespace vps::eval
