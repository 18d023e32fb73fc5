// `vps infer`: VPSNet-Track over every video of a Cityscapes-VPS layout dataset (all frames of
// img_all in time order, the tracker reset per video) and the export of the labelled frames as
// pan_pred/<image id>.png + pred.json that `vps eval vpq` and the official evaluator read
// (docs/vps-infer.md).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/cityscapes_vps.h"
#include "eval/vpq.h"
#include "infer/pan_export.h"
#include "models/vps/vpsnet_track.h"

namespace vps::infer {

struct InferOptions {
  std::string split = "val";
  int64_t stuff_area_limit = 2048;  // stuff classes smaller than this become void (VPSNet's export)
  UnifyRules unify;                 // VPSNet's export rules by default (infer/pan_export.h)
  bool force = false;               // replace a non-empty output folder
  // Per-frame tensors written to <out>/dump/<frame>.safetensors: any of "fpn" (P2..P6), "fcn_output",
  // "panoptic_logits", "detections" (boxes, scores, labels, track_ids of the kept detections).
  std::vector<std::string> dump;
  bool vis = false;                 // infer_frames: <out>/vis/<frame>.png overlays and <out>/vis/video.gif
  // The largest frame read, in pixels; 0: what half of this machine's memory holds at
  // kInferBytesPerPixel (a frame is refused, named, before it is decoded).
  int64_t max_pixels = 0;
  // Called after every frame: (videos done, video count, frames done, frame count).
  std::function<void(int64_t, int64_t, int64_t, int64_t)> progress;
  // infer_dataset: shard `shard` of `shards` runs the videos v (in the dataset's order) with
  // v % shards == shard and writes shard.json beside pred.json (infer/shards.h merges them).
  int shard = 0, shards = 1;
};

// What inference costs per pixel of a frame at its peak: about 215 bytes with the R50 config (a 6000x6000
// frame took 7.7 GB, measured by the reliability review of issue #24); the default pixel limit follows.
constexpr int64_t kInferBytesPerPixel = 215;
// opt.max_pixels, or the default derived from this machine's memory.
int64_t infer_pixel_limit(const InferOptions& opt);

struct InferStats {
  int64_t videos = 0, frames = 0, written = 0;
};

// Writes the prediction set into out_dir as a whole (a temporary folder renamed at the end).
InferStats infer_dataset(models::VPSNetTrack& model, const std::string& data_root, const std::string& out_dir,
                         const InferOptions& opt);

// The frames of one video of the user's own (PNG/JPEG files of `frames_dir` in name order, no GT):
// every frame written as pan_pred/<file stem>.png + pred.json (categories of Cityscapes-VPS).
InferStats infer_frames(models::VPSNetTrack& model, const std::string& frames_dir, const std::string& out_dir,
                        const InferOptions& opt);

// infer_dataset into pred_dir, then VPQ of the prediction against the split's GT (panoptic_video and
// panoptic_gt_<split>_city_vps.json under data_root; the labelled frames per video from the dataset):
// `vps train --eval-every`.
eval::VpqResult infer_and_score(models::VPSNetTrack& model, const std::string& data_root, const std::string& pred_dir,
                                const InferOptions& opt);

// For each img_all frame of `ds`, the index of the labelled frame (ds.frames()) it is, or -1.
std::vector<int64_t> labelled_index_of_all_frames(const data::CityscapesVps& ds);

// The names --dump accepts.
const std::vector<std::string>& dump_names();

}  // namespace vps::infer
