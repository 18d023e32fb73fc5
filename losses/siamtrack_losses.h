// SiamTrack's losses (the SiamTrack paper, sections 3.2.1 and 3.2.2; docs/siamtrack.md), behind one
// entry point, add_siamtrack_losses: on a (target, reference) pair of VPSNet-Track passes, which
// segments are traceable, the channels they occupy in each frame's training panoptic logits, and
// L_tc = lambda_segment * L_segment + lambda_pixel * (L_warp + L_tube), each term switchable. Its
// parts: MaskPool, the segment contrastive loss (NT-Xent, Eq. 2-3), the tube-matching dice loss
// (Eq. 5-7) and the warping loss (Eq. 4) with its occlusion map. Composed of differentiable core ops and resample2d
// (layers/flow_ops.h), so one code path serves CPU and CUDA and the gradients are autograd's. Masks,
// targets, channel lists, flows and occlusion maps are constants (no gradient).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace vps {

// MaskPool: feats (1, D, h, w), masks (S, h, w) 0/1 of any dtype (pixels outside every mask, ignore
// ones included, are 0). Returns (S, D): the mean feature under each mask, L2-normalised. An empty mask
// gives the zero vector (callers pool only segments that are present).
Tensor mask_pool(const Tensor& feats, const Tensor& masks);

// Segment contrastive loss of N segments seen in two frames: z_t, z_r (N, D) L2-normalised embeddings,
// row i of both the same segment. NT-Xent over the 2N embeddings with cosine similarity / temperature:
// for each anchor the positive is the same segment in the other frame, the denominator sums every
// embedding but the anchor; the mean over the 2N anchors (both directions). N < 2: a zero scalar
// (no negatives; the caller logs the count).
Tensor segment_contrastive_loss(const Tensor& z_t, const Tensor& z_r, double temperature = 0.5);

// Tube-matching loss: logits_t, logits_r (1, C_t, h, w), (1, C_r, h, w) panoptic logits;
// target_t, target_r (h, w) int64, the channel each pixel belongs to (PanopticHead::mask_matching),
// `ignore` excluded from every sum; tubes: (channel in frame t, channel in frame r) of each traceable
// segment. p = softmax over channels, q = (target == channel); per tube D = 2 sum(p q) / (sum p^2 +
// sum q^2) over both frames together; returns mean(1 - D), a zero scalar when there is no tube.
Tensor tube_matching_loss(const Tensor& logits_t, const Tensor& logits_r, const Tensor& target_t, const Tensor& target_r,
                          const std::vector<std::pair<int64_t, int64_t>>& tubes, int64_t ignore = 255);

// ---- the warping loss ----

// O = exp(-alpha * ||I_t - resample2d(I_r, F)||_2), the norm over the colour channels: image_t, image_r
// (1, 3, H, W) in [0, 1], flow (1, 2, H, W) the forward flow of the target in pixels. Returns (1, 1, H, W).
Tensor occlusion_map(const Tensor& image_t, const Tensor& image_r, const Tensor& flow, double alpha = 50.0);

// A flow (1, 2, H, W) at (h, w): nearest (every (H/h)-th pixel for integer ratios) with dx scaled by
// w / W and dy by h / H, so it counts pixels of the (h, w) grid.
Tensor downsample_flow(const Tensor& flow, int64_t h, int64_t w);

// L_warp = mean over the (h, w) pixels of occlusion * ||s_t[a] - resample2d(s_r[b], flow)||_2, the norm
// over the channel pairs (a, b) (the target's channel a is the reference's b: stuff by class,
// instances by track id). logits_t (1, C_t, h, w), logits_r (1, C_r, h, w); flow (1, 2, h, w) and
// occlusion (1, 1, h, w) at the logits' resolution. No channel pair: a zero scalar.
Tensor warp_loss(const Tensor& logits_t, const Tensor& logits_r, const std::vector<std::pair<int64_t, int64_t>>& channels,
                 const Tensor& flow, const Tensor& occlusion);

// ---- the entry point ----

// The loss terms and their weights (the model's SiamTrackOptions, models/vps/siamtrack.h, adds the
// projection head's options to these).
struct SiamTrackLossOptions {
  bool enabled = false;  // the model config has a "siamtrack" section
  double lambda_segment = 1.0, lambda_pixel = 1.0;
  double temperature = 0.5;
  double occlusion_alpha = 50.0;
  bool contra_sem = true, contra_inst = true, warp = true, tube = true;
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

// Adds the enabled terms to `out` (a model's named losses), already weighted: loss_contra_sem,
// loss_contra_inst (lambda_segment), loss_warp, loss_tube (lambda_pixel); and the logged counts
// siam_n_sem, siam_n_inst (traceable segments: fewer than 2 give a zero contrastive loss),
// siam_n_tubes, and siam_warp_skipped (1 when the pair has no flow: no loss_warp). flow, flow_valid:
// the Batch's (sample/sample.h), on the target's (H, W) grid; the occlusion map is multiplied by
// flow_valid.
void add_siamtrack_losses(std::map<std::string, Tensor>& out, const SiamTrackLossOptions& o, int64_t num_stuff,
                          int64_t num_classes, const SiamTrackFrame& t, const SiamTrackFrame& r,
                          const Tensor& flow = Tensor(), const Tensor& flow_valid = Tensor());

}  // namespace vps
