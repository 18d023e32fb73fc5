// `vps vis` over a prediction set and/or its GT: one picture per frame (class colours for stuff, a
// colour per track id for things, optionally over the RGB frame and GT | prediction side by side) and,
// on request, a GIF and a contact sheet per video. The files are read by eval's reader (load_pan_set),
// so vis accepts exactly what vps eval accepts.
#pragma once
#include <string>

#include "data/image_io.h"

namespace vps::eval {

struct VisOptions {
  std::string gt_json;            // GT json: image list, order, categories (required)
  std::string gt_dir;             // panoptic_video folder (optional)
  std::string pred_dir;           // holds pan_pred/ and pred.json (optional)
  std::string images_dir;         // RGB frames: <images_dir>/<images[].file_name> (optional: overlay)
  std::string out_dir;
  bool side_by_side = false;      // GT | prediction (needs both)
  bool gif = false, sheet = false;
  int alpha = 50;
  int64_t max_pixels = data::ImageLimits{}.max_pixels;  // per PNG, checked before decoding
};
// Writes <out>/<image id>.png per frame and, on request, <out>/<video>.gif and <out>/<video>_sheet.png,
// a video being the consecutive frames whose file names start with the same video id.
// Returns the number of frame images written.
int render_visualisation(const VisOptions& o);

}  // namespace vps::eval
