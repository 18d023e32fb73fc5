// infer/: the inference runners -- plain C++ over the models (not Modules): load a model and weights,
// run inputs without autograd, write results atomically. `vps infer-features` lives here; the video
// runner and the online tracker of VPSNet-Track join it.
//
// `vps infer-features`: build a backbone model from a config, load weights, run one input, write every
// named feature map (C2..C5, P2..P6) to a safetensors file.
#pragma once
#include <string>

#include "layers/module.h"

namespace vps::infer {

struct FeatureOptions {
  bool fold_bn = false;     // fold conv+BN pairs after loading (faster inference, same outputs to ~1e-6 f32)
  bool strict = true;       // every model key must be in the weights file
  int64_t size_divisor = 32;  // image/npy inputs are zero-padded at the bottom/right to a multiple of this
};

// config: a JSON file of any model with a ResNet child `backbone` and an FPN child `neck` (ResNetFPN,
// MaskRCNN, ...); only the backbone and neck run. With a full detector's weights and a ResNetFPN config,
// use strict = false (the heads' keys are then unexpected and ignored). weights: a
// .safetensors or .pth file; input: an image (PNG/JPEG, normalised as the spec) or a .npy array taken as
// is. Runs without autograd, in eval mode; writes `out` atomically and returns the maps written.
nn::NamedTensors infer_features(const std::string& config, const std::string& weights, const std::string& input,
                                const std::string& out, const FeatureOptions& opt = {});

}  // namespace vps::infer
