// SiamTrack in VPSNet-Track (the SiamTrack paper, sections 3.1-3.2; docs/siamtrack.md): the model's
// part of it. The losses (SiamTrackFrame, add_siamtrack_losses) are in losses/siamtrack_losses.h.
//
// The projection head (section 3.1): the FPN levels P2..P(1 + num_levels) resized to P2's size
// (nearest, as Libra R-CNN's gather) and summed, then conv 3x3 in->hidden, ReLU, conv 3x3
// hidden->out_channels and an L2 normalisation over channels. Training only: its keys
// (`projection_head.` in the model) stay out of inference weights unless the config asks for them
// (VPSNetTrack::training_only_prefixes).
#pragma once
#include <memory>
#include <vector>

#include "layers/conv_modules.h"
#include "losses/siamtrack_losses.h"

namespace vps::models {

struct ProjectionHeadOptions {
  int64_t in_channels = 256, hidden_channels = 256, out_channels = 128;  // out: the embedding size D
  int64_t num_levels = 4;  // P2..P5; 5 adds P6
  DType dtype = DType::f32;
  uint64_t seed = 0;       // PyTorch's default Conv2d init
};

class ProjectionHead : public nn::Module {
 public:
  explicit ProjectionHead(const ProjectionHeadOptions& o);
  // feats: P2.. (at least num_levels maps, each (1, in_channels, ., .)). Returns (1, D, h2, w2), every
  // pixel's vector of unit length.
  Tensor forward(const std::vector<Tensor>& feats) const;
  std::string type_name() const override { return "ProjectionHead"; }
  const ProjectionHeadOptions& options() const { return opt_; }

 private:
  ProjectionHeadOptions opt_;
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
};

// The "siamtrack" section of a VPSNetTrack config: the loss terms (losses/siamtrack_losses.h, whose
// add_siamtrack_losses computes them) and the projection head that feeds the segment losses.
struct SiamTrackOptions : SiamTrackLossOptions {
  ProjectionHeadOptions projection;
  bool base_losses_both_frames = true;  // false: VPSNet-Track's losses on the target frame only
  bool save_projection_head = false;    // keep projection_head.* in the weights vps train writes
};

}  // namespace vps::models
