// The contract every trainable model meets (Mask R-CNN today; VPSNet-Track and SiamTrack next), and
// the samples data/ builds for it. The trainer (train/) and the runners (vps train, vps infer) see
// models only through this interface; a model's own typed API (MaskRCNN::detect) stays available.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "layers/module.h"
#include "tensor/tensor.h"

namespace vps::models {

// GT instances of one frame: boxes (G,4) float32 [x1,y1,x2,y2] (inclusive pixel corners), labels (G)
// int64 in 1..nc-1, masks (G,H,W) u8 0/1 at the frame's unpadded resolution, track_ids (G) int64 (the
// instance ids that stay fixed over a video; undefined where the model needs none). img_h/img_w: the
// unpadded size (-1: the image tensor's size).
struct GtInstances {
  Tensor boxes, labels, masks, track_ids;
  int64_t img_h = -1, img_w = -1;
};

// One frame as a model takes it.
struct Frame {
  Tensor image;                    // (1,3,H,W) normalised, H and W multiples of 32 (zero-padded)
  int64_t img_h = -1, img_w = -1;  // the unpadded size (-1: the image tensor's size)
  GtInstances gt;                  // training GT (empty at test time)
  Tensor semantic;                 // (H,W) int64 train ids, 255 = ignore; undefined when absent
  std::string image_id;            // the dataset's image id, e.g. "0005_0025_frankfurt_000000_001736"
  int64_t video_id = -1, frame_index = -1;
};

// A training sample: the target frame and, for models trained on pairs of frames of one video (the
// track head, SiamTrack's losses), a reference frame of the same video.
struct Batch {
  Frame frame;
  std::optional<Frame> reference;
  // Forward optical flow from `frame` to `reference` (SiamTrack's warping loss): (1,2,H,W) float in
  // pixels of frame's padded image grid, channel 0 = dx, 1 = dy, so that reference sampled at
  // (x + dx, y + dy) is frame at (x, y) (resample2d); flow_valid (1,1,H,W) float, 1 where the pixel
  // is visible in both frames, 0 where occluded or unknown. Undefined when the sample has no flow.
  Tensor flow, flow_valid;
};

using LossMap = std::map<std::string, Tensor>;
using OutputMap = std::map<std::string, Tensor>;

class Model : public nn::Module {
 public:
  // Named losses (0-dim, differentiable) and logged scalars (0-dim, no grad) of one sample. Every key
  // containing "loss" enters the total (mmdetection's parse_losses). `gen` drives sampling.
  virtual LossMap forward_train(const Batch& batch, Generator& gen) = 0;
  // Inference on one frame, no grad: named outputs (e.g. boxes, scores, labels, masks).
  virtual OutputMap forward_test(const Frame& frame) = 0;
  // Dotted-name prefixes of the parameters used in training only (a projection head), left out of the
  // inference weights `vps train` writes and allowed to be missing when those are loaded.
  virtual std::vector<std::string> training_only_prefixes() const { return {}; }
  // Sum of the entries whose key contains "loss".
  static Tensor total_loss(const LossMap& losses);
};

}  // namespace vps::models
