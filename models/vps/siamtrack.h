// SiamTrack's temporal-correspondence losses on a (target, reference) pair of VPSNet-Track passes
// (the SiamTrack paper, section 3.2; docs/siamtrack.md): which segments are
// traceable, the channels they occupy in each frame's training panoptic logits, and
// L_tc = lambda_segment * L_segment + lambda_pixel * (L_warp + L_tube), each term switchable.
#pragma once
#include <cstdint>
#include <vector>

#include "models/model.h"
#include "models/vps/projection_head.h"

namespace vps::models {

struct SiamTrackOptions {
  bool enabled = false;  // the model config has a "siamtrack" section
  ProjectionHeadOptions projection;
  double lambda_segment = 1.0, lambda_pixel = 1.0;
  double temperature = 0.5;
  double occlusion_alpha = 50.0;
  bool contra_sem = true, contra_inst = true, warp = true, tube = true;
  bool base_losses_both_frames = true;  // false: VPSNet-Track's losses on the target frame only
  bool save_projection_head = false;    // keep projection_head.* in the weights vps train writes
  bool segment_losses() const { return enabled && (contra_sem || contra_inst); }
};

// What the losses read of one frame of the pair, everything at the logits' 1/4 resolution (the
// padded image's every 4th pixel, as VPSNet's GT for the panoptic head).
struct SiamTrackFrame {
  Tensor image;                    // (1, 3, H, W) the normalised, padded input (full resolution)
  Tensor semantic;                 // (h, w) train ids, 255 ignored
  Tensor masks;                    // (G, h, w) GT instance masks 0/1
  std::vector<int64_t> track_ids;  // (G)
  Tensor embedding;                // (1, D, h, w) the projection head's (undefined without segment losses)
  Tensor pano_logits;              // (1, num_stuff + G, h, w) the training panoptic logits (GT boxes)
  Tensor pano_target;              // (h, w) int64 their channel per pixel (mask_matching), 255 ignored
};

// Adds the enabled terms to `out`, already weighted: loss_contra_sem, loss_contra_inst (lambda_segment),
// loss_warp, loss_tube (lambda_pixel); and the logged counts siam_n_sem, siam_n_inst (traceable
// segments: fewer than 2 give a zero contrastive loss), siam_n_tubes, and siam_warp_skipped (1 when
// the pair has no flow: no loss_warp). flow, flow_valid: models::Batch's, on the target's (H, W) grid;
// the occlusion map is multiplied by flow_valid.
void add_siamtrack_losses(LossMap& out, const SiamTrackOptions& o, int64_t num_stuff, int64_t num_classes,
                          const SiamTrackFrame& t, const SiamTrackFrame& r, const Tensor& flow = Tensor(),
                          const Tensor& flow_valid = Tensor());

}  // namespace vps::models
