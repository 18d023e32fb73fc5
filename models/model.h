// The contract every trainable model meets (Mask R-CNN, VPSNet-Track, SiamTrack), on the samples
// data/ builds (sample/sample.h). The trainer (train/) and the runners (vps train, vps infer) see
// models only through this interface; a model's own typed API (MaskRCNN::detect) stays available.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "layers/module.h"
#include "sample/sample.h"
#include "tensor/tensor.h"

namespace vps::models {

// The samples (sample/sample.h) under the names models use.
using vps::Batch;
using vps::Frame;
using vps::GtInstances;

using LossMap = std::map<std::string, Tensor>;
using OutputMap = std::map<std::string, Tensor>;

class Model : public nn::Module {
 public:
  // Named losses (0-dim, differentiable) and logged scalars (0-dim, no grad) of one sample. Every key
  // containing "loss" enters the total (mmdetection's parse_losses). `gen` drives sampling.
  virtual LossMap forward_train(const Batch& batch, Generator& gen) = 0;
  // Inference on one frame, no grad: named outputs (e.g. boxes, scores, labels, masks).
  virtual OutputMap forward_test(const Frame& frame) = 0;
  // Dotted-name prefixes of the parameters used in training only (a projection head), left out of the
  // inference weights `vps train` writes and allowed to be missing when those are loaded.
  virtual std::vector<std::string> training_only_prefixes() const { return {}; }
  // Sum of the entries whose key contains "loss".
  static Tensor total_loss(const LossMap& losses);
};

}  // namespace vps::models
