// The samples models take and data/ builds: GT instances, a frame, a training batch (a frame and its
// reference frame with their flow), and the input convention they carry (mmdetection's RGB
// normalisation, zero padding to a multiple of 32). Below both data/ and models/: data/ writes these,
// models/ reads them (models/model.h names them models::Frame, models::Batch, models::GtInstances).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "tensor/tensor.h"

namespace vps {

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

// The image normalisation VPSNet uses: mmdetection's img_norm_cfg with to_rgb (RGB order).
constexpr double kImageMean[3] = {123.675, 116.28, 103.53}, kImageStd[3] = {58.395, 57.12, 57.375};

// A normalised image (N, 3, H, W) back in [0, 1] (x * std + mean) / 255, its dtype and device.
Tensor unit_range_image(const Tensor& normalized);
// x (..., H, W) padded at the bottom/right with `value` to multiples of `divisor`.
Tensor pad_to_multiple(const Tensor& x, int64_t divisor, double value = 0);

}  // namespace vps
