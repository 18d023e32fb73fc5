// Training samples of VPSNet-Track from a Cityscapes-VPS layout dataset (data/cityscapes_vps.h;
// docs/vps-train.md): a labelled frame and its reference frame (a labelled frame of the same video
// a random offset of annotated steps away, spec: offsets {-1, +1}), with VPSNet's training transforms
// (resize by a scale, the same random horizontal flip for both frames, normalisation, zero padding to
// a multiple of 32). GT: the non-crowd thing instances (boxes, labels 1..8, masks, track ids) and the
// semantic map (train ids, 255 ignored). Every random choice is a function of (seed, step), so a run
// resumed at step k sees the samples the uninterrupted one would.
#pragma once
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <vector>

#include "data/cityscapes_vps.h"
#include "models/model.h"

namespace vps::data {

struct PairOptions {
  std::vector<int> ref_offsets{-1, 1};  // in labelled frames of the same video; 0: the frame itself
  double scale = 1.0;                   // resize factor of both frames (bilinear image, nearest labels)
  bool flip = true;                     // horizontal flip with probability 0.5, the same for the pair
  int64_t size_divisor = 32;
  uint64_t seed = 0;
  DType dtype = DType::f32;
};

class PairSampler {
 public:
  PairSampler(const CityscapesVps& ds, const PairOptions& opt);
  // The sample of training step `step` (0-based): frames in a fixed shuffled order per epoch.
  models::Batch sample(int64_t step) const;
  size_t size() const { return ds_.frames().size(); }
  // One frame with its GT, transformed (flip as given).
  models::Frame frame(size_t index, bool flip) const;

 private:
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
  models::Batch get(int64_t step) { return get(step, step + 1); }
  models::Batch get(int64_t step, int64_t next);

 private:
  const PairSampler& s_;
  int64_t next_ = -1;
  std::future<models::Batch> pending_;
};

}  // namespace vps::data
