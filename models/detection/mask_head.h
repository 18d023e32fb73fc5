// FCNMaskHead of mmdetection v1 (fcn_mask_head.py): num_convs x (3x3 conv + ReLU) named
// convs.{i}.conv, upsample (ConvTranspose2d k2 s2) + ReLU, conv_logits (1x1, num_classes).
#pragma once
#include <memory>
#include <vector>

#include "layers/conv_modules.h"
#include "layers/module.h"

namespace vps::models {

struct MaskHeadOptions {
  int64_t in_channels = 256, conv_channels = 256, num_convs = 4, num_classes = 9;
};

class MaskHead : public nn::Module {
 public:
  // mmdet init: every conv and the upsample kaiming_normal (fan_out, relu), biases 0.
  explicit MaskHead(const MaskHeadOptions& o);
  MaskHead(const MaskHeadOptions& o, Generator& gen);
  std::string type_name() const override { return "FCNMaskHead"; }

  // roi_feats (K,C,S,S) -> mask logits (K,nc,2S,2S) (S = 14 gives 28x28). Differentiable.
  Tensor forward(const Tensor& roi_feats);
  const MaskHeadOptions& options() const { return opt_; }

  std::vector<std::shared_ptr<nn::Conv2d>> convs;  // registered as convs.{i}.conv
  std::shared_ptr<nn::ConvTranspose2d> upsample;
  std::shared_ptr<nn::Conv2d> conv_logits;

 private:
  MaskHeadOptions opt_;
};

}  // namespace vps::models
