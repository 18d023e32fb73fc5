// Mask R-CNN as VPSNet's instance branch uses it (docs/detection-heads.md, docs/detection-training.md): ResNet + FPN + RPN head + shared-FC
// box head + FCN mask head, batch 1. Children backbone, neck, rpn_head, bbox_head, mask_head, so the
// parameter names are mmdetection's (docs/weights.md). Built from JSON with build_model({"type": "MaskRCNN", ...}).
#pragma once
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "layers/module.h"
#include "models/config_reader.h"
#include "models/model.h"
#include "models/detection/bbox_head.h"
#include "models/detection/det_targets.h"
#include "models/backbone/fpn.h"
#include "models/detection/mask_head.h"
#include "models/detection/mask_roi.h"
#include "models/backbone/resnet.h"
#include "models/detection/rpn_head.h"

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

// Detections of one image; masks (n,28,28) are sigmoid probabilities of each detection's own class.
struct MaskRCNNOutput {
  Tensor boxes, scores, labels, masks;
};

// What a training pass computed besides the losses, for models built on Mask R-CNN (VPSNet-Track's
// track and panoptic heads use the same features and sampled RoIs).
struct MaskRCNNTrainPass {
  LossMap losses;
  std::vector<Tensor> feats;  // P2..P6
  RCNNTargets targets;        // the sampled RoIs (positives first) and their assignment
};

// A test pass: features, detections and the own-class mask logits (n, 28, 28) before the sigmoid.
struct MaskRCNNTestPass {
  std::vector<Tensor> feats;
  Tensor boxes, scores, labels, mask_logits;
};

class MaskRCNN : public Model {
 public:
  explicit MaskRCNN(const MaskRCNNOptions& o);
  std::string type_name() const override { return "MaskRCNN"; }
  const MaskRCNNOptions& options() const { return opt_; }

  // Model: the frame's image and GT (a reference frame is not used). Losses as losses() below.
  LossMap forward_train(const Batch& batch, Generator& gen) override;
  // Model: detect() of the frame as named outputs boxes, scores, labels, masks.
  OutputMap forward_test(const Frame& frame) override;

  // img (1,3,H,W) normalised (BGR/RGB means and stds applied by the caller, docs/backbone.md), H and W multiples
  // of 32. Returns loss_rpn_cls, loss_rpn_bbox, loss_cls, loss_bbox, loss_mask (0-dim, differentiable),
  // "acc" (percent, no grad) and "num_pos_rpn", "num_pos_rcnn" (counts, no grad). `gen` drives sampling.
  LossMap losses(const Tensor& img, const GtInstances& gt, Generator& gen);
  // No grad. Proposals (test cfg) clipped to img_h x img_w (unpadded); MaskROI selection clipped to the
  // padded tensor size (VPSNet's im_info); masks of the selected boxes. Nothing selected: n = 0.
  MaskRCNNOutput detect(const Tensor& img, int64_t img_h, int64_t img_w);
  // The passes behind losses() and detect().
  MaskRCNNTrainPass train_pass(const Tensor& img, const GtInstances& gt, Generator& gen);
  MaskRCNNTestPass test_pass(const Tensor& img, int64_t img_h, int64_t img_w);
  // test_pass's heads on features already extracted (P2..P6 of a padded pad_h x pad_w input).
  MaskRCNNTestPass test_heads(std::vector<Tensor> feats, int64_t pad_h, int64_t pad_w, int64_t img_h, int64_t img_w);
  // Own-class mask logits (n, 28, 28) of boxes (n, 4) with labels (n) on the FPN levels.
  Tensor own_class_mask_logits(const std::vector<Tensor>& feats, const Tensor& boxes, const Tensor& labels);

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

// Options from a config (see configs/mask_rcnn_r50_fpn.json): mask_rcnn_options reads Mask R-CNN's
// sections of a larger config (VPSNet-Track's), the _from_json form a whole one, refusing any key it
// did not read.
MaskRCNNOptions mask_rcnn_options(cfg::Reader& cfg);
MaskRCNNOptions mask_rcnn_options_from_json(const nlohmann::json& cfg);

}  // namespace vps::models
