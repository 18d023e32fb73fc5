// SiamTrack's projection head (the SiamTrack paper, section 3.1; docs/siamtrack.md):
// the FPN levels P2..P(1 + num_levels) resized to P2's size (nearest, as Libra R-CNN's gather) and
// summed, then conv 3x3 in->hidden, ReLU, conv 3x3 hidden->out_channels and an L2 normalisation over
// channels. Training only: its keys (`projection_head.` in the model) stay out of inference weights
// unless the config asks for them (VPSNetTrack::training_only_prefixes).
#pragma once
#include <memory>
#include <vector>

#include "layers/conv_modules.h"

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

}  // namespace vps::models
