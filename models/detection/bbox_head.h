// SharedFCBBoxHead of mmdetection v1 (convfc_bbox_head.py): flatten -> shared_fcs.0 + ReLU ->
// shared_fcs.1 + ReLU -> fc_cls (num_classes) and fc_reg (4 * num_classes, class-specific incl. bg).
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "layers/module.h"
#include "layers/norm_modules.h"
#include "layers/module_list.h"

namespace vps::models {

struct BBoxHeadOptions {
  int64_t in_channels = 256, roi_feat_size = 7, fc_out_channels = 1024, num_classes = 9;
  std::vector<double> target_stds{0.1, 0.1, 0.2, 0.2};  // means 0; used by the targets and the decoding
};

class BBoxHead : public nn::Module {
 public:
  // mmdet init: shared_fcs xavier_uniform, fc_cls N(0, 0.01), fc_reg N(0, 0.001), biases 0.
  explicit BBoxHead(const BBoxHeadOptions& o);
  BBoxHead(const BBoxHeadOptions& o, Generator& gen);
  std::string type_name() const override { return "SharedFCBBoxHead"; }

  // roi_feats (K,C,S,S) -> cls logits (K,nc), deltas (K,4nc). Differentiable.
  std::pair<Tensor, Tensor> forward(const Tensor& roi_feats);
  const BBoxHeadOptions& options() const { return opt_; }

  std::shared_ptr<nn::ModuleList> shared_fcs;  // nn::Linear children "0", "1"
  std::shared_ptr<nn::Linear> fc_cls, fc_reg;

 private:
  BBoxHeadOptions opt_;
};

}  // namespace vps::models
