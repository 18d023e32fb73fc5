// `vps infer-features`: build a backbone model from a config, load weights, run one input, write every
// named feature map (C2..C5, P2..P6) to a safetensors file.
#pragma once
#include <string>

#include "layers/module.h"

namespace vps::models {

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

// A report for `vps inspect FILE --config F | --model TYPE`: the file's keys against the model's
// (missing, unused, mis-shaped, one per line; "all N keys match" when they agree).
// `*complete` (when given) is set to whether every key the model expects is present with its shape.
std::string inspect_against_model(const std::string& file, const std::string& config, const std::string& model_type,
                                  const std::string& pth_key = "", bool strip_module = true, bool* complete = nullptr);

}  // namespace vps::models
