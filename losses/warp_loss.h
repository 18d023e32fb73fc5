// SiamTrack's warping loss (../shared/reference/siamtrack-paper.txt section 3.2.2, Eq. 4;
// docs/siamtrack.md): the occlusion map of a pair from its flow, the flow at the logits' resolution,
// and the occlusion-weighted L2 distance between the target's logits and the reference's warped onto
// them with resample2d (layers/flow_ops.h). Flow and occlusion are constants (no gradient).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace vps {

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
