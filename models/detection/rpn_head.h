// RPN head of mmdetection v1 (rpn_head.py / anchor_head.py) and its proposal generation (docs/detection-heads.md).
// Children rpn_conv (3x3 + ReLU, shared over levels), rpn_cls (1x1, A sigmoid logits), rpn_reg (1x1, 4A
// deltas): checkpoint names rpn_head.rpn_conv.weight etc.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "layers/anchors.h"
#include "layers/conv_modules.h"
#include "layers/module.h"

namespace vps::models {

struct RPNHeadOptions {
  int64_t in_channels = 256, feat_channels = 256;
  std::vector<double> anchor_scales{8}, anchor_ratios{0.5, 1.0, 2.0};
  std::vector<int64_t> anchor_strides{4, 8, 16, 32, 64};
};

// Proposal settings (mmdet rpn_proposal / test_cfg.rpn). nms_across_levels is false (VPSNet).
struct ProposalOptions {
  int64_t nms_pre = 1000, nms_post = 1000, max_num = 1000;
  double nms_thr = 0.7;
  double min_bbox_size = 0;
  static ProposalOptions train();  // 2000 / 2000 / 2000, 0.7
  static ProposalOptions test();   // 1000 / 1000 / 1000, 0.7
};

class RPNHead : public nn::Module {
 public:
  // Weights N(0, 0.01), biases 0 (mmdet normal_init), drawn from `gen` (default: a Generator seeded 0).
  explicit RPNHead(const RPNHeadOptions& o);
  RPNHead(const RPNHeadOptions& o, Generator& gen);
  std::string type_name() const override { return "RPNHead"; }

  int64_t num_anchors() const { return spec_.num_base(); }
  const RPNHeadOptions& options() const { return opt_; }
  AnchorSpec anchor_spec() const { return spec_; }

  // feats P2..P6 (N,C,Hi,Wi) -> per level cls logits (N,A,Hi,Wi) and deltas (N,4A,Hi,Wi); differentiable.
  std::pair<std::vector<Tensor>, std::vector<Tensor>> forward(const std::vector<Tensor>& feats);
  // Per level anchors (Hi*Wi*A, 4) float32 in the (y*W+x)*A+a order, on the feats' device.
  std::vector<Tensor> anchors(const std::vector<Tensor>& feats) const;
  // Proposals of image n: (k,5) [x1,y1,x2,y2,score] (score = sigmoid), no grad, dtype of the deltas.
  // Per level: top nms_pre scores (ties: lower anchor index first), decode (+1, clamp, clip to the
  // unpadded img_h x img_w), drop boxes under min_bbox_size, NMS (+1 areas) at nms_thr, first nms_post;
  // then all levels, global top max_num by score (descending).
  Tensor get_proposals(const std::vector<Tensor>& cls, const std::vector<Tensor>& deltas, int64_t n,
                       int64_t img_h, int64_t img_w, const ProposalOptions& cfg) const;

  std::shared_ptr<nn::Conv2d> rpn_conv, rpn_cls, rpn_reg;

 private:
  RPNHeadOptions opt_;
  AnchorSpec spec_;
};

// Per-level RPN outputs of image n flattened to the anchor order: scores (sum_i Hi*Wi*A) and deltas
// (sum_i Hi*Wi*A, 4), as mmdet's permute(1,2,0).reshape. Differentiable (views + cat).
std::pair<Tensor, Tensor> flatten_rpn_outputs(const std::vector<Tensor>& cls, const std::vector<Tensor>& deltas,
                                              int64_t n);

// Indices of the k largest values of a 1-D host vector, descending, ties by lower index (stable).
std::vector<int64_t> topk_indices(const std::vector<double>& v, int64_t k);

}  // namespace vps::models
