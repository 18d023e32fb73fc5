// SiamTrack's losses (the SiamTrack paper, sections 3.2.1 and 3.2.2; docs/siamtrack.md):
// MaskPool, the segment contrastive loss (NT-Xent, Eq. 2-3), the tube-matching dice loss (Eq. 5-7) and
// the warping loss (Eq. 4) with its occlusion map. Composed of differentiable core ops and resample2d
// (layers/flow_ops.h), so one code path serves CPU and CUDA and the gradients are autograd's. Masks,
// targets, channel lists, flows and occlusion maps are constants (no gradient).
#pragma once
#include <cstdint>
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

}  // namespace vps
