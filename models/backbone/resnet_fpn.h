// ResNetFPN: ResNet backbone + FPN neck with children `backbone` and `neck`, so its keys are
// mmdetection's (`backbone.layer1.0.conv1.weight`, `neck.lateral_convs.0.conv.weight`).
// Registered as config types "ResNetFPN", "ResNet" and "FPN" (configs/resnet50_fpn.json).
#pragma once
#include <memory>

#include <nlohmann/json.hpp>

#include "layers/module.h"
#include "models/config_reader.h"
#include "models/backbone/fpn.h"
#include "models/backbone/resnet.h"

namespace vps::models {

class ResNetFPN : public nn::Module {
 public:
  ResNetFPN(const ResNetOptions& backbone, const FPNOptions& neck);
  // image (N, 3, H, W), H and W multiples of 32 -> C2..C5 (those of out_indices), then P2..P6,
  // named "C2".."C5", "P2".."P6".
  nn::NamedTensors forward(const Tensor& image);
  std::string type_name() const override { return "ResNetFPN"; }
  std::shared_ptr<ResNet> backbone;
  std::shared_ptr<FPN> neck;
};

// Options from a config section (keys as the struct fields); `default_dtype` when it sets no "dtype".
ResNetOptions resnet_options(cfg::Reader& r, const std::string& default_dtype = "f32");
FPNOptions fpn_options(cfg::Reader& r, const std::string& default_dtype = "f32");
// The same from a whole config object: a key nothing read is an error naming it.
ResNetOptions resnet_options_from_json(const nlohmann::json& j, const std::string& where = "backbone");
FPNOptions fpn_options_from_json(const nlohmann::json& j, const std::string& where = "neck");
// Config {"type": "ResNetFPN", "dtype": "f32"|"f64", "backbone": {...}, "neck": {...}}; the neck's
// in_channels default to the backbone's out_channels().
std::shared_ptr<ResNetFPN> build_resnet_fpn(const nlohmann::json& cfg);

// Names backbone outputs `c` ("C2".. from out_indices) and neck outputs `p` ("P2".. from the first level).
nn::NamedTensors name_features(const std::vector<int>& out_indices, const std::vector<Tensor>& c,
                               const std::vector<Tensor>& p);

// Folds the BatchNorms of every ResNet inside `m` (itself or any descendant). Returns how many.
int fold_batch_norms(nn::Module& m);

}  // namespace vps::models
