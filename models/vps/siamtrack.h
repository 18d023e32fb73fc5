// SiamTrack in VPSNet-Track (the SiamTrack paper, section 3.2; docs/siamtrack.md): the model's
// options. The losses (SiamTrackFrame, add_siamtrack_losses) are in losses/siamtrack_losses.h.
#pragma once
#include "losses/siamtrack_losses.h"
#include "models/vps/projection_head.h"

namespace vps::models {

// The "siamtrack" section of a VPSNetTrack config: the loss terms (losses/siamtrack_losses.h, whose
// add_siamtrack_losses computes them) and the projection head that feeds the segment losses.
struct SiamTrackOptions : SiamTrackLossOptions {
  ProjectionHeadOptions projection;
  bool base_losses_both_frames = true;  // false: VPSNet-Track's losses on the target frame only
  bool save_projection_head = false;    // keep projection_head.* in the weights vps train writes
};

}  // namespace vps::models
