// The flow cache of `vps flow` (docs/flownet2.md): FlowNet2's flow of every (target, reference) pair
// the trainer will sample, at the logit resolution (VPSNet's compute_flow: x0.25 grid and values),
// one pair-flow file each (data/flow_io.h), so that training reads flows instead of running the
// 162M-parameter FlowNet2 per step. Resumable: a valid file of the right pair and size is kept.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/cityscapes_vps.h"
#include "data/flow_io.h"
#include "models/flownet2/flownet2.h"

namespace vps::infer {

// One pair: a labelled target frame and the frame `offset` frames away in its video, clamped to the
// video's first and last known frame; the reference is a labelled frame or an img_all frame.
struct FlowPair {
  size_t target = 0;  // index into ds.frames()
  int offset = 0;
  std::string target_file, ref_file;  // image file names (the pair-flow file's stems)
  std::string target_path, ref_path;
  int64_t height = 0, width = 0;  // the target's size in the index (the cache's grid is a quarter of it)
};

// Every pair of the split for the offsets (in frames), in frame order; `missing` counts the pairs
// whose reference frame is in neither index (the sampler cannot ask for those).
std::vector<FlowPair> flow_pairs(const data::CityscapesVps& ds, const std::vector<int>& offsets, int64_t* missing);

struct FlowCacheOptions {
  bool float16 = true;  // float16's step is 1/16 px or finer below 128 px, far more than flows at 1/4 need
  // After every pair: (pairs done, pairs in all, pairs computed so far).
  std::function<void(int64_t, int64_t, int64_t)> progress;
  // The command's inputs (dataset, weights): the cache folder may not be one or hold one.
  std::vector<std::string> inputs;
};

struct FlowCacheStats {
  int64_t pairs = 0, computed = 0, kept = 0;
};

// Computes the missing or unusable files of `pairs` into out_dir (created; locked while this runs, one
// writer per cache folder: a second vps flow into it stops at once naming the first).
FlowCacheStats compute_flow_cache(const models::FlowNet2& net, const std::vector<FlowPair>& pairs,
                                  const std::string& out_dir, const FlowCacheOptions& o);

// End-point error of `est` against an exact flow (e.g. the synthetic generator's, full resolution):
// the exact flow is brought to est's grid as the trainer does (bilinear, values x the size ratio,
// validity nearest) and the mean Euclidean distance over its valid pixels is returned, in pixels of
// est's grid (-1 when no pixel is valid).
double flow_epe(const data::PairFlow& est, const data::PairFlow& exact);

// `vps flow --eval`: the mean flow_epe of the cached flows of `pairs` in cache_dir against the exact
// ones in exact_dir (pairs without an exact flow are skipped), in pixels at 1/4 resolution, written
// to cache_dir/epe.json ({epe_quarter_px, epe_full_px, pairs}). vps::Error when no pair has one.
struct CacheEpe {
  double epe = 0;  // at 1/4 resolution (x4: full-resolution pixels)
  int64_t pairs = 0;
};
CacheEpe evaluate_flow_cache(const std::vector<FlowPair>& pairs, const std::string& cache_dir,
                             const std::string& exact_dir);

}  // namespace vps::infer
