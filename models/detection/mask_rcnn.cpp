// Mask R-CNN training and test passes (batch 1), composed from the backbone, the heads, the target
// code and the losses.
#include "models/detection/mask_rcnn.h"

#include "autograd/grad_mode.h"
#include "layers/anchors.h"
#include "losses/det_losses.h"
#include "models/detection/roi_extractor.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

MaskRCNN::MaskRCNN(const MaskRCNNOptions& o) : opt_(o) {
  backbone = register_module("backbone", std::make_shared<ResNet>(o.backbone));
  FPNOptions n = o.neck;
  if (n.in_channels.empty()) n.in_channels = backbone->out_channels();
  VPS_CHECK(n.in_channels == backbone->out_channels(), "MaskRCNN: neck in_channels do not match the backbone");
  neck = register_module("neck", std::make_shared<FPN>(n));
  Generator gen(o.seed);
  rpn_head = register_module("rpn_head", std::make_shared<RPNHead>(o.rpn_head, gen));
  bbox_head = register_module("bbox_head", std::make_shared<BBoxHead>(o.bbox_head, gen));
  mask_head = register_module("mask_head", std::make_shared<MaskHead>(o.mask_head, gen));
  VPS_CHECK(o.bbox_head.num_classes == o.mask_head.num_classes, "MaskRCNN: bbox_head has ", o.bbox_head.num_classes,
            " classes but mask_head ", o.mask_head.num_classes);
}

std::vector<Tensor> MaskRCNN::extract_feats(const Tensor& img) {
  VPS_CHECK(img.defined() && img.dim() == 4 && img.size(0) == 1, "MaskRCNN: img must be (1,3,H,W), got ",
            img.defined() ? img.str() : "undefined");
  return neck->forward(backbone->forward(img));
}

namespace {


// All anchors of the image (levels concatenated) and their valid flags (the padded image is the tensor).
std::pair<Tensor, Tensor> image_anchors(const RPNHead& head, const std::vector<Tensor>& feats, int64_t pad_h,
                                        int64_t pad_w) {
  std::vector<Tensor> anchors = head.anchors(feats), flags;
  const auto& strides = head.options().anchor_strides;
  for (size_t i = 0; i < feats.size(); ++i) {
    int64_t fh = feats[i].size(2), fw = feats[i].size(3), vh = 0, vw = 0;
    anchor_valid_size(pad_h, pad_w, strides[i], fh, fw, &vh, &vw);
    flags.push_back(anchor_valid_flags(fh, fw, vh, vw, head.num_anchors(), feats[i].device()));
  }
  return {cat(anchors, 0), cat(flags, 0)};
}

Tensor scalar_like(double v, const Tensor& like) { return Tensor::scalar(v, DType::f32, like.device()); }

}  // namespace

LossMap MaskRCNN::forward_train(const Batch& batch, Generator& gen) {
  GtInstances gt = batch.frame.gt;
  if (gt.img_h < 0) gt.img_h = batch.frame.img_h, gt.img_w = batch.frame.img_w;
  return losses(batch.frame.image, gt, gen);
}

OutputMap MaskRCNN::forward_test(const Frame& frame) {
  int64_t h = frame.img_h >= 0 ? frame.img_h : frame.image.size(2), w = frame.img_w >= 0 ? frame.img_w : frame.image.size(3);
  MaskRCNNOutput o = detect(frame.image, h, w);
  return {{"boxes", o.boxes}, {"scores", o.scores}, {"labels", o.labels}, {"masks", o.masks}};
}

LossMap MaskRCNN::losses(const Tensor& img, const GtInstances& gt, Generator& gen) {
  return train_pass(img, gt, gen).losses;
}

MaskRCNNTrainPass MaskRCNN::train_pass(const Tensor& img, const GtInstances& gt, Generator& gen) {
  const char* op = "MaskRCNN::losses";
  MaskRCNNTrainPass pass;
  pass.feats = extract_feats(img);
  const std::vector<Tensor>& feats = pass.feats;
  int64_t pad_h = img.size(2), pad_w = img.size(3);
  int64_t img_h = gt.img_h > 0 ? gt.img_h : pad_h, img_w = gt.img_w > 0 ? gt.img_w : pad_w;
  VPS_CHECK(gt.boxes.defined() && gt.labels.defined() && gt.masks.defined(), op, ": GT boxes, labels and masks are required");
  VPS_CHECK(gt.masks.dim() == 3 && gt.masks.size(0) == gt.boxes.size(0), op, ": gt masks ", gt.masks.str(),
            " do not match gt boxes ", gt.boxes.str());
  Tensor gt_boxes = gt.boxes.to(DType::f32);
  std::map<std::string, Tensor> out;

  // RPN
  auto [cls, deltas] = rpn_head->forward(feats);
  auto [anchors, valid] = image_anchors(*rpn_head, feats, pad_h, pad_w);
  RPNTargets rt = rpn_targets(anchors, valid, gt_boxes, img_h, img_w, opt_.rpn_train, gen);
  auto [scores_flat, deltas_flat] = flatten_rpn_outputs(cls, deltas, 0);
  double rpn_avg = rt.avg_factor();
  out["loss_rpn_cls"] = sigmoid_bce_with_logits(scores_flat, rt.labels.to(scores_flat.dtype()),
                                                rt.label_weights.to(scores_flat.dtype()), rpn_avg);
  out["loss_rpn_bbox"] = smooth_l1(deltas_flat, rt.bbox_targets.to(deltas_flat.dtype()),
                                   rt.bbox_weights.to(deltas_flat.dtype()), opt_.rpn_bbox_beta, rpn_avg);

  // Proposals -> sampled RoIs
  Tensor proposals;
  {
    autograd::NoGradGuard ng;
    std::vector<Tensor> cd, dd;
    for (size_t i = 0; i < cls.size(); ++i) {
      cd.push_back(cls[i].detach());
      dd.push_back(deltas[i].detach());
    }
    proposals = rpn_head->get_proposals(cd, dd, 0, img_h, img_w, opt_.rpn_proposal);
  }
  RCNNTargets t = rcnn_targets(proposals, gt_boxes.to(proposals.dtype()), gt.labels, opt_.rcnn_train, gen);
  
  // Box head
  auto [cls_score, bbox_pred] = bbox_head->forward(extract_roi_features(feats, t.rois, opt_.bbox_head.roi_feat_size));
  int64_t k = cls_score.size(0);
  out["loss_cls"] = softmax_cross_entropy(cls_score, t.labels, t.label_weights.to(cls_score.dtype()));
  Tensor own = class_deltas(bbox_pred, t.labels);  // negatives: class 0 columns, weight 0
  out["loss_bbox"] = smooth_l1(own, t.bbox_targets.to(own.dtype()), t.bbox_weights.to(own.dtype()),
                               opt_.rcnn_bbox_beta, double(std::max<int64_t>(k, 1)));
  out["acc"] = scalar_like(classification_accuracy(cls_score, t.labels), cls_score);

  // Mask head on the positives
  int64_t p = t.num_pos;
  if (p > 0) {
    Tensor pos_rois = t.rois.slice(0, 0, p);
    Tensor mask_pred = mask_head->forward(extract_roi_features(feats, pos_rois, opt_.mask_size / 2));
    Tensor targets = mask_targets(pos_rois.slice(1, 1, 5), t.pos_assigned_gt_inds, gt.masks.to(DType::u8).cpu(),
                                  mask_pred.size(2));
    out["loss_mask"] = mask_bce(mask_pred, targets.to(mask_pred.dtype()), t.labels.slice(0, 0, p));
  } else {
    out["loss_mask"] = mul(sum(bbox_pred), 0.0);  // no positive RoI: a zero still on the graph
  }
  out["num_pos_rpn"] = scalar_like(double(rt.num_pos), cls_score);
  out["num_pos_rcnn"] = scalar_like(double(p), cls_score);
  pass.losses = std::move(out);
  pass.targets = std::move(t);
  return pass;
}

MaskRCNNTestPass MaskRCNN::test_pass(const Tensor& img, int64_t img_h, int64_t img_w) {
  autograd::NoGradGuard ng;
  return test_heads(extract_feats(img), img.size(2), img.size(3), img_h, img_w);
}

MaskRCNNTestPass MaskRCNN::test_heads(std::vector<Tensor> feats_in, int64_t pad_h, int64_t pad_w, int64_t img_h,
                                      int64_t img_w) {
  autograd::NoGradGuard ng;
  MaskRCNNTestPass pass;
  pass.feats = std::move(feats_in);
  const std::vector<Tensor>& feats = pass.feats;
  auto [cls, deltas] = rpn_head->forward(feats);
  Tensor proposals = rpn_head->get_proposals(cls, deltas, 0, img_h, img_w, opt_.rpn_test);
  Tensor rois = rois_from_boxes(proposals);
  auto [cls_score, bbox_pred] = bbox_head->forward(extract_roi_features(feats, rois, opt_.bbox_head.roi_feat_size));
  Detections det = mask_roi_select(rois, softmax(cls_score, 1), bbox_pred, pad_h, pad_w, opt_.rcnn_test);
  pass.boxes = det.boxes;
  pass.scores = det.scores;
  pass.labels = det.labels;
  pass.mask_logits = own_class_mask_logits(feats, det.boxes, det.labels);
  return pass;
}

Tensor MaskRCNN::own_class_mask_logits(const std::vector<Tensor>& feats, const Tensor& boxes, const Tensor& labels) {
  int64_t n = boxes.size(0), s = opt_.mask_size;
  if (n == 0) return Tensor::zeros({0, s, s}, feats[0].dtype(), feats[0].device());
  Tensor logits = mask_head->forward(extract_roi_features(feats, rois_from_boxes(boxes), s / 2));
  int64_t h = logits.size(2), w = logits.size(3);
  Tensor index = labels.to(DType::i64).view({n, 1, 1, 1}).expand({n, 1, h, w}).contiguous();
  return reshape(gather(logits, 1, index), {n, h, w});
}

MaskRCNNOutput MaskRCNN::detect(const Tensor& img, int64_t img_h, int64_t img_w) {
  MaskRCNNTestPass pass = test_pass(img, img_h, img_w);
  autograd::NoGradGuard ng;
  MaskRCNNOutput o;
  o.boxes = pass.boxes;
  o.scores = pass.scores;
  o.labels = pass.labels;
  o.masks = sigmoid(pass.mask_logits);
  return o;
}

}  // namespace vps::models
