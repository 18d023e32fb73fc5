// Training samples of VPSNet-Track from a Cityscapes-VPS layout dataset (data/cityscapes_vps.h;
// docs/vps-train.md): a labelled frame and its reference frame (a labelled frame of the same video
// a random offset of annotated steps away, spec: offsets {-1, +1}), with VPSNet's training transforms
// (resize by a scale, the same random horizontal flip for both frames, normalisation, zero padding to
// a multiple of 32; where the config asks, a random ratio on the scale and a random crop, the same for
// both frames, as mmdet v1's Resize(ratio_range) and RandomCrop). GT: the non-crowd thing instances (boxes, labels 1..8, masks, track ids) and the
// semantic map (train ids, 255 ignored). Every random choice is a function of (seed, step), so a run
// resumed at step k sees the samples the uninterrupted one would.
#pragma once
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/cityscapes_vps.h"
#include "sample/sample.h"

namespace vps::data {

struct PairOptions {
  std::vector<int> ref_offsets{-1, 1};  // in labelled frames of the same video; 0: the frame itself
  double scale = 1.0;                   // resize factor of both frames (bilinear image, nearest labels)
  // hi > 0: the scale is multiplied per step by a ratio drawn uniformly from [lo, hi] (VPSNet: 0.8, 1.5)
  double scale_ratio_lo = 0, scale_ratio_hi = 0;
  // > 0: a random crop window of crop_h x crop_w (or the whole axis when smaller) after resize and flip
  // (VPSNet: 800 x 1600), the same for both frames; instances whose clipped box is empty are dropped,
  // and the window is drawn again (up to 10 times) while the target frame would keep none of its own.
  int64_t crop_h = 0, crop_w = 0;
  bool flip = true;                     // horizontal flip with probability 0.5, the same for the pair
  // Non-empty: Batch::flow / flow_valid from this folder of pair flows (data/train_flow.h), transformed
  // like the images; a missing file or one made for another pair or size is an error naming it.
  std::string flow_dir;
  int64_t size_divisor = 32;
  uint64_t seed = 0;
  DType dtype = DType::f32;
};

class PairSampler {
 public:
  PairSampler(const CityscapesVps& ds, const PairOptions& opt);
  // The sample of training step `step` (0-based): frames in a fixed shuffled order per epoch.
  Batch sample(int64_t step) const;
  size_t size() const { return ds_.frames().size(); }
  // One frame with its GT, transformed (flip as given, the configured scale, no crop).
  Frame frame(size_t index, bool flip) const;

  // A frame after load, flip, normalisation and resize, before the crop and the padding.
  struct Prepared;

 private:
  Prepared prepare(size_t index, bool flip, double scale) const;
  struct CropWindow {
    int64_t y = 0, x = 0, h = 0, w = 0;  // h = 0: no crop
  };
  Frame finish(Prepared p, const CropWindow& c) const;
  Batch with_flow(const Prepared& target, const Prepared& ref, bool flip, const CropWindow& c) const;
  const CityscapesVps& ds_;
  PairOptions opt_;
};

// Decodes and transforms the next step's sample on a background thread while the current step runs:
// get(step) returns sample(step) (waiting for it when it was prefetched) and starts step + 1; get(step,
// next) starts `next` instead (a data-parallel rank's next sample index).
class PrefetchingSampler {
 public:
  explicit PrefetchingSampler(const PairSampler& s) : s_(s) {}
  ~PrefetchingSampler();
  Batch get(int64_t step) { return get(step, step + 1); }
  Batch get(int64_t step, int64_t next);

 private:
  const PairSampler& s_;
  int64_t next_ = -1;
  std::future<Batch> pending_;
};

}  // namespace vps::data
