// VPSNet-Track (the base model of the paper; SiamTrack trains exactly this model): Mask R-CNN (its
// children and keys) + the UPSNet semantic head `panopticFPN` + the panoptic head + the MaskTrack
// `track_head` (docs/vpsnet-track.md). Trained on pairs of frames of one video; at test time one frame
// at a time, the association over a video being infer::OnlineTracker's.
#pragma once
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/detection/mask_rcnn.h"
#include "models/vps/panoptic_head.h"
#include "models/vps/semantic_head.h"
#include "models/vps/siamtrack.h"
#include "models/vps/track_head.h"

namespace vps::models {

struct VPSNetTrackOptions {
  MaskRCNNOptions det;
  SemanticHeadOptions semantic;
  TrackHeadOptions track;
  PanopticHeadOptions panoptic;
  SiamTrackOptions siamtrack;  // SiamTrack's losses (off unless the config has a "siamtrack" section)
};

// One frame's inference before the association: detections (a dummy one when there are none, as
// VPSNet's MaskROI returns: box 0, score 1, label 0), their 7x7 RoI features for the tracker, the
// semantic logits.
struct VPSNetFrameOutputs {
  MaskRCNNTestPass det;
  Tensor roi_feats;   // (n, C, 7, 7)
  Tensor fcn_output;  // (1, 19, Hpad, Wpad)
};

class VPSNetTrack : public MaskRCNN {
 public:
  explicit VPSNetTrack(const VPSNetTrackOptions& o);
  std::string type_name() const override { return "VPSNetTrack"; }
  const VPSNetTrackOptions& track_options() const { return topt_; }

  // The eight losses of VPSNet-Track on a (target, reference) pair: Mask R-CNN's five, loss_match
  // (track head vs the reference frame's GT objects, weight 0.5), loss_segm (full resolution) and
  // loss_pano (1/4 resolution, GT boxes, weight 0.5); plus acc and the positive counts (no grad).
  // The frame needs GT boxes, labels, masks and track ids and the semantic GT; the reference its GT
  // boxes and track ids. With SiamTrack: the same eight on the reference (keys suffixed "_ref", the
  // reference matched against the target) unless base_losses_both_frames is off, and SiamTrack's terms
  // (models/vps/siamtrack.h); the reference then needs the whole GT too.
  LossMap forward_train(const Batch& batch, Generator& gen) override;
  // One frame as the first of a video (object ids 0..n-1): panoptic (H, W) int64 (0..10 stuff,
  // 11 + j the j-th kept instance), semantic (H, W) int64 train ids, and the kept detections' boxes,
  // scores, labels, track_ids; fcn_output and panoptic_logits for comparisons.
  OutputMap forward_test(const Frame& frame) override;

  VPSNetFrameOutputs infer_frame(const Frame& frame);
  // The panoptic result of a frame given every detection's object id (the tracker's, before MaskRemoval).
  OutputMap compose(const VPSNetFrameOutputs& f, const std::vector<int64_t>& object_ids, int64_t img_h, int64_t img_w);

  std::shared_ptr<SemanticHead> panopticFPN;
  std::shared_ptr<TrackHead> track_head;
  std::shared_ptr<ProjectionHead> projection_head;  // only with SiamTrack's segment losses
  PanopticHead panoptic_head;

  std::vector<std::string> training_only_prefixes() const override;

 private:
  // A frame's semantic head and training panoptic logits (GT boxes) with their GT.
  struct PanopticPass {
    SemanticOutput sem;
    Tensor semantic, masks;  // the GT padded to the image: (Hp, Wp) train ids, (G, Hp, Wp)
    Tensor logits, target;   // (1, num_stuff + G, Hp/4, Wp/4) and mask_matching's (Hp/4, Wp/4)
  };
  PanopticPass panoptic_pass(const std::vector<Tensor>& feats, const Frame& f, const GtInstances& gt);
  // loss_match, loss_segm and loss_pano of a frame (its Mask R-CNN pass done) against the other frame.
  PanopticPass add_base_losses(LossMap& out, const MaskRCNNTrainPass& pass, const Frame& f, const GtInstances& gt,
                               const std::vector<Tensor>& other_feats, const GtInstances& other_gt);
  SiamTrackFrame siamtrack_frame(const Tensor& image, const PanopticPass& p, const GtInstances& gt,
                                 const std::vector<Tensor>& feats) const;
  VPSNetTrackOptions topt_;
};

// Options from a config (configs/vpsnet_track_r50.json): Mask R-CNN's sections plus "panopticFPN",
// "track_head" and "panoptic"; unknown keys are errors naming them.
VPSNetTrackOptions vpsnet_track_options_from_json(const nlohmann::json& cfg);

}  // namespace vps::models
