// The online association of VPSNet-Track at inference (panoptic_track.py simple_test_bboxes, the
// MaskTrack R-CNN tracker; docs/track-head.md). A memory of every object seen in the current video
// (its raw RoI feature, box and label); each frame's detections are scored against it with the track
// head, and assigned greedily in detection order.
#pragma once
#include <cstdint>
#include <vector>

#include "models/vps/track_head.h"

namespace vps::infer {

class OnlineTracker {
 public:
  explicit OnlineTracker(models::TrackHead& head) : head_(head) {}

  // Object ids (0-based, stable over the video) of one frame's n detections: roi_feats (n, C, S, S),
  // bboxes (n, 4) [x1, y1, x2, y2], labels (n) int64, cls_prob (n) (each detection's own class
  // probability). first_frame (frame index 1 of a video) empties the memory first.
  //   comp = log_softmax([0 | x . mem]) + c0 log(cls_prob) + c1 [0 | IoU] + c2 [1 | same label]
  //   (IoU with mmdet's +1 convention; match_coeff = c0, c1, c2), then per detection in order: the
  //   best column 0 -> a new object (appended to the memory); column j -> object j-1 if its comp
  //   beats the best so far for that object this frame (a detection it displaces gets -1) and the
  //   object's feature and box are overwritten (not its label); with duplicate_iou >= 0 a detection
  //   that lost object j to a detection of its label whose box overlaps it by IoU > duplicate_iou
  //   gets id j too; finally every -1 becomes a new object.
  std::vector<int64_t> step(const Tensor& roi_feats, const Tensor& bboxes, const Tensor& labels,
                            const Tensor& cls_prob, bool first_frame);
  void reset();
  int64_t num_objects() const { return int64_t(labels_.size()); }

 private:
  void append(const Tensor& feat, const Tensor& box, int64_t label);
  models::TrackHead& head_;
  std::vector<Tensor> feats_, boxes_;  // one (C, S, S) / (4) per object
  std::vector<int64_t> labels_;
};

}  // namespace vps::infer
