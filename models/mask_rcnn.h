// Mask R-CNN as VPSNet's instance branch uses it (spec 1.1-1.6 and 2): ResNet + FPN + RPN head + shared-FC
// box head + FCN mask head, batch 1. Children backbone, neck, rpn_head, bbox_head, mask_head, so the
// parameter names are mmdetection's (spec 6). Built from JSON with build_model({"type": "MaskRCNN", ...}).
#pragma once
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "layers/module.h"
#include "models/bbox_head.h"
#include "models/det_targets.h"
#include "models/fpn.h"
#include "models/mask_head.h"
#include "models/mask_roi.h"
#include "models/resnet.h"
#include "models/rpn_head.h"

namespace vps::models {

struct MaskRCNNOptions {
  ResNetOptions backbone;
  FPNOptions neck;  // empty in_channels: the backbone's out_channels
  RPNHeadOptions rpn_head;
  BBoxHeadOptions bbox_head;
  MaskHeadOptions mask_head;
  // train_cfg
  RPNTargetOptions rpn_train;
  ProposalOptions rpn_proposal = ProposalOptions::train();
  RCNNTargetOptions rcnn_train;
  int64_t mask_size = 28;
  double rpn_bbox_beta = 1.0 / 9, rcnn_bbox_beta = 1.0;
  // test_cfg
  ProposalOptions rpn_test = ProposalOptions::test();
  MaskROIOptions rcnn_test;
  uint64_t seed = 0;  // initialisation of the heads
};

// GT of one image: boxes (G,4) float32 [x1,y1,x2,y2] (inclusive pixel corners), labels (G) int64 in
// 1..nc-1, masks (G,H,W) u8 0/1 at the image's (unpadded) resolution. img_h/img_w: the unpadded size
// (-1: the image tensor's size).
struct GtInstances {
  Tensor boxes, labels, masks;
  int64_t img_h = -1, img_w = -1;
};

// Detections of one image; masks (n,28,28) are sigmoid probabilities of each detection's own class.
struct MaskRCNNOutput {
  Tensor boxes, scores, labels, masks;
};

class MaskRCNN : public nn::Module {
 public:
  explicit MaskRCNN(const MaskRCNNOptions& o);
  std::string type_name() const override { return "MaskRCNN"; }
  const MaskRCNNOptions& options() const { return opt_; }

  // img (1,3,H,W) normalised (spec 2: BGR/RGB means and stds applied by the caller), H and W multiples
  // of 32. Returns loss_rpn_cls, loss_rpn_bbox, loss_cls, loss_bbox, loss_mask (0-dim, differentiable),
  // "acc" (percent, no grad) and "num_pos_rpn", "num_pos_rcnn" (counts, no grad). `gen` drives sampling.
  std::map<std::string, Tensor> forward_train(const Tensor& img, const GtInstances& gt, Generator& gen);
  // Sum of the entries whose key contains "loss" (mmdet parse_losses).
  static Tensor total_loss(const std::map<std::string, Tensor>& losses);

  // No grad. Proposals (test cfg) clipped to img_h x img_w (unpadded); MaskROI selection clipped to the
  // padded tensor size (VPSNet's im_info); masks of the selected boxes. Nothing selected: n = 0.
  MaskRCNNOutput forward_test(const Tensor& img, int64_t img_h, int64_t img_w);

  // FPN levels P2..P6 of an image.
  std::vector<Tensor> extract_feats(const Tensor& img);

  std::shared_ptr<ResNet> backbone;
  std::shared_ptr<FPN> neck;
  std::shared_ptr<RPNHead> rpn_head;
  std::shared_ptr<BBoxHead> bbox_head;
  std::shared_ptr<MaskHead> mask_head;

 private:
  MaskRCNNOptions opt_;
};

// Options from a config object (see configs/mask_rcnn_r50_fpn.json); unknown keys are errors naming them.
MaskRCNNOptions mask_rcnn_options_from_json(const nlohmann::json& cfg);

}  // namespace vps::models
