// VPSNet's track head, MaskTrack R-CNN style (mmdet/models/track_heads/track_head.py; docs/track-head.md):
// an embedding of each 7x7 RoI feature by two FCs (ReLU between them, none after), match scores
// [0 | x . ref^T] against the reference objects (column 0: "a new object"), and loss_match, the
// cross entropy of those scores against the reference ids. Keys: fcs.0.{weight,bias} (1024 x 12544),
// fcs.1.{weight,bias} (1024 x 1024). The online association at inference is infer/tracker.h.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/norm_modules.h"
#include "layers/module_list.h"

namespace vps::models {

struct TrackHeadOptions {
  int64_t in_channels = 256, roi_feat_size = 7, fc_out_channels = 1024, num_fcs = 2;
  std::vector<double> match_coeff{1.0, 2.0, 10.0};  // inference: weights of log cls_prob, IoU, same label
  // Inference: a detection that loses its object to a better detection of the same label whose box
  // overlaps it by IoU > duplicate_iou keeps that object's id (two pieces of one object paint one
  // segment) instead of becoming a new object. < 0: off (VPSNet); docs/track-head.md.
  double duplicate_iou = -1.0;
  double loss_weight = 0.5;
  // Match logits: "dot" (VPSNet: the unbounded dot product of the embeddings, for its checkpoints) or
  // "cosine" (the cosine of the L2-normalised embeddings / temperature: bounded by 1/temperature, so one
  // pair of large embeddings cannot spike the loss and its gradient; docs/track-head.md).
  std::string match = "dot";
  double temperature = 0.1;  // "cosine" only
  uint64_t seed = 0;  // init: normal(0, 0.01) weights, zero biases
};

class TrackHead : public nn::Module {
 public:
  explicit TrackHead(const TrackHeadOptions& o);
  std::string type_name() const override { return "TrackHead"; }
  const TrackHeadOptions& options() const { return opt_; }

  // roi_feats (n, C, S, S) -> embeddings (n, fc_out_channels).
  Tensor embed(const Tensor& roi_feats);
  // Match scores (n, m + 1) of n RoIs against m reference RoIs: column 0 is 0, column j+1 is the dot
  // product of the embeddings of RoI i and reference j ("dot"), or their cosine / temperature ("cosine").
  Tensor match_score(const Tensor& roi_feats, const Tensor& ref_roi_feats);
  // loss_match: sum_i CE(score_i, ids_i) * w_i / max(#(w > 0), 1) * loss_weight. ids (n) int64 in
  // [0, m] (0: not in the reference frame), weights (n) (1 for positive proposals, 0 otherwise).
  Tensor loss(const Tensor& match_score, const Tensor& ids, const Tensor& weights) const;

  std::shared_ptr<nn::ModuleList> fcs;

 private:
  TrackHeadOptions opt_;
};

}  // namespace vps::models
