// Loading a prediction/GT pair the way the official Cityscapes-VPS evaluator (tools/eval_vpq.py) does:
// GT PNG names from the GT json (sorted), prediction PNGs as pan_pred/<images[].id>.png in json order,
// annotations zipped by position and cut into videos with numpy.array_split semantics.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/image_io.h"
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
  std::string file_name;            // GT images[i].file_name (the RGB frame)
  std::string gt_png, pred_png;     // full paths ("" when that folder was not given)
  int width = 0, height = 0;        // GT images[i].width/height (0: the JSON gives none)
  std::string size_from;            // "GT.json images[i]", for messages
  std::vector<SegInfo> gt_segs;     // segments_info in json order (duplicates kept)
  std::vector<SegInfo> pred_segs;
};

struct PanSet {
  std::vector<data::Category> categories;      // GT json order
  std::vector<PanFrame> frames;
  std::vector<std::pair<size_t, size_t>> videos;  // [begin, end) into frames
  int64_t max_pixels = data::ImageLimits{}.max_pixels;  // per PNG, checked before decoding
};

// numpy.array_split(range(n), parts) boundaries: the first n % parts chunks get one extra element.
std::vector<std::pair<size_t, size_t>> array_split(size_t n, size_t parts);

// pred_dir holds pan_pred/ and pred.json; gt_dir is the panoptic_video folder; either may be empty
// (that side is not read: vps vis of one side). One reader for vps eval and vps vis, so both accept
// the same files. video_len: labelled frames per video (6 for Cityscapes-VPS; videos = len //
// video_len). Errors name the file and key.
// Image ids and file names that would leave gt_dir / pred_dir (holding '/' or '..') are refused.
PanSet load_pan_set(const std::string& pred_dir, const std::string& gt_dir, const std::string& gt_json,
                    int video_len, int64_t max_pixels = data::ImageLimits{}.max_pixels);

// Loads a panoptic PNG as segment ids; `lim` is checked before the pixels are decoded.
std::vector<uint32_t> load_ids(const std::string& png, const data::ImageLimits& lim, int* w, int* h);
// A frame's GT and prediction PNGs: the GT must have the JSON's size (when it gives one), the
// prediction the GT's; each message names the file that is wrong.
void load_frame_ids(const PanFrame& f, int64_t max_pixels, std::vector<uint32_t>* gt, std::vector<uint32_t>* pred,
                    int* w, int* h);

}  // namespace vps::eval
