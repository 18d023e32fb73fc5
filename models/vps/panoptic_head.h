// VPSNet's panoptic head, UPSNet style without an "unknown" channel (mmdet/models/utils/unary_logits.py,
// mask_removal.py; docs/panoptic-head.md). No parameters: it combines the semantic head's logits with
// the instance masks. Batch size 1. Stuff channels are the first `num_stuff` (11) train ids; a thing
// detection of label l (1..8) reads the semantic channel class_mapping[l - 1] (11..18).
//
// Training (GT boxes, at the semantic head's 1/4 resolution):
//   logits = cat(seg_stuff, seg_inst + mask_term)    loss_pano = CE(logits, mask_matching(GT)) * 0.5
// Inference (detections after MaskRemoval, at full resolution):
//   logits = cat(seg_stuff, seg_inst + mask_energy)  panoptic = argmax(softmax(logits)): 0..10 stuff,
//   11 + j the j-th kept instance.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace vps::models {

struct PanopticHeadOptions {
  int64_t num_stuff = 11;
  std::vector<int64_t> class_mapping{11, 12, 13, 14, 15, 16, 17, 18};  // det label l -> channel [l - 1]
  double fraction_threshold = 0.3;  // MaskRemoval: reject a mask covered more than this by kept ones
  int64_t ignore_label = 255;
  double loss_weight = 0.5;         // train_cfg.loss_pano_weight
};

struct SegTermOutput {
  Tensor stuff;  // (1, num_stuff, h, w)
  Tensor inst;   // (1, k, h, w): channel i = seg_score[class_mapping[cls_i]] inside box i, 0 outside
};

// A kept mask's resized logits inside its (image-cropped) box, placed at (y0, x0).
struct EnergyCrop {
  Tensor logits;  // (h, w)
  int64_t y0 = 0, x0 = 0;
};

struct MaskRemovalOutput {
  std::vector<int64_t> keep;    // indices into the input order, in kept (score-sorted) order
  std::vector<EnergyCrop> crops;  // one per kept mask (none for the "nothing kept" result)
  Tensor energy;                // (1, keep.size(), H, W) dense: the crops, 0 elsewhere (when asked for)
};

class PanopticHead {
 public:
  explicit PanopticHead(const PanopticHeadOptions& o = {});
  const PanopticHeadOptions& options() const { return opt_; }

  // SegTerm. seg_score (1, C, h, w); boxes (k, 4) [x1, y1, x2, y2] already in seg_score's coordinates;
  // cls (k) int64 labels (0: no instance channel content). Box i covers rows int(y1) .. round(y2)
  // inclusive (int truncates toward zero, round is half-to-even) and the same for columns, with Python
  // slice semantics (a negative start counts from the end). Differentiable in seg_score.
  SegTermOutput seg_term(const Tensor& seg_score, const Tensor& boxes, const Tensor& cls) const;

  // MaskTerm (training). masks (k, 28, 28) logits of each box's own class; boxes (k, 4) in the
  // (h, w) map's coordinates. Box i truncated to integers (x1i, y1i, x2i, y2i), its mask resized
  // bilinearly (align_corners false) to (y2i - y1i + 1, x2i - x1i + 1) (at least 1) and pasted, cropped to
  // the map. Returns (1, k, h, w), differentiable in masks.
  Tensor mask_term(const Tensor& masks, const Tensor& boxes, int64_t h, int64_t w) const;

  // MaskMatching (keep_inds = None): gt_seg (h, w) int64 train ids / ignore; gt_masks (k, h, w) u8.
  // Stuff ids (<= num_stuff - 1) and ignore (>= 255) are kept; GT mask i (pixels != 0 and != 255)
  // paints num_stuff + i, later masks over earlier; every other pixel becomes ignore_label.
  Tensor mask_matching(const Tensor& gt_seg, const Tensor& gt_masks) const;

  // loss_pano of the training logits (1, num_stuff + k, h, w) against mask_matching's target (h, w).
  Tensor loss(const Tensor& panoptic_logits, const Tensor& target) const;
  // The training logits: cat(seg_term(fcn_score, gt_boxes / 4).stuff, .inst + mask_term(...)).
  Tensor train_logits(const Tensor& fcn_score, const Tensor& gt_boxes, const Tensor& gt_labels,
                      const Tensor& gt_mask_logits) const;

  // MaskRemoval. rois (n, 4) full-resolution boxes, cls_prob (n), mask_logits (n, 28, 28), cls_idx (n)
  // labels 1..8; image (H, W). Detections by descending cls_prob (ties: the later index first, as
  // numpy's argsort()[::-1]); each box truncated to integers, its mask resized bilinearly to the box
  // and thresholded at 0; rejected when empty inside the image or when more than fraction_threshold of
  // it is covered by already kept masks of the same class. Nothing kept, or the single dummy detection
  // (label 0): keep = {0} and a zero energy of one channel (UPSNet's behaviour).
  // dense_energy false: only the crops (a 1024x2048 frame with 100 kept masks would take 800 MB).
  MaskRemovalOutput mask_removal(const Tensor& rois, const Tensor& cls_prob, const Tensor& mask_logits,
                                 const Tensor& cls_idx, int64_t H, int64_t W, bool dense_energy = true) const;

  // Inference (no grad): the panoptic logits cat(fcn_output[:, :num_stuff], seg_term(fcn_output,
  // boxes).inst + energy) for the kept detections (boxes (k, 4), labels (k)) and MaskRemoval's result,
  // built in one tensor (the instance channels written in place); and their argmax over a softmax,
  // (H, W) int64, cropped to the unpadded (img_h, img_w).
  Tensor test_logits(const Tensor& fcn_output, const Tensor& boxes, const Tensor& labels,
                     const MaskRemovalOutput& removal) const;
  static Tensor argmax_of_softmax(const Tensor& logits, int64_t img_h, int64_t img_w);

 private:
  // The semantic channel and the (Python-slice) box rows/cols of each instance; channel -1: no content.
  struct InstRegion {
    int64_t channel = -1, y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  };
  std::vector<InstRegion> inst_regions(const Tensor& boxes, const Tensor& cls, int64_t channels, int64_t h,
                                       int64_t w) const;
  PanopticHeadOptions opt_;
};

}  // namespace vps::models
