// From VPSNet-Track's per-frame outputs to the prediction format of Cityscapes-VPS, as the official
// tools/test_vpq.py export does (CityscapesVps.get_unified_pan_result and converter_2ch_track_core;
// docs/vps-infer.md): a pan_2ch map per frame (semantic class, instance rank, object id), then per
// video one segment id per (class, object) pair, written as pan_pred/<image id>.png + pred.json.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/panoptic.h"

namespace vps::infer {

struct Pan2ch {
  int width = 0, height = 0;
  std::vector<uint8_t> seg, ins, obj;  // class (255 void), instance rank, object id + 1 (uint8, wraps)
};

// get_unified_pan_result. seg (h*w) semantic train ids; pan (h*w) panoptic argmax (0..10 stuff,
// 11 + j kept instance j); cls_ind (kept labels 1..8), obj_id (their object ids). Duplicate object ids
// in a frame get fresh ids 100, 101, ... (scanning from the end); an instance region takes its label's
// class when the semantic majority agrees or is not a confident stuff class, else the majority stuff
// class; its object id is obj_id[rank among the instance channels present] + 1 (VPSNet's indexing, kept
// for the same numbers); stuff classes with less than stuff_area_limit pixels become void.
// The two VPSNet rules that lose things, as options (docs/vps-infer.md has their measurement):
struct UnifyRules {
  // An instance region goes to a stuff class holding at least this fraction of it (VPSNet: 0.5; above
  // 1: never).
  double stuff_majority = 0.5;
  // false (VPSNet): the object id of the idx-th instance channel present in the argmax is obj_id[idx],
  // which is another instance's id as soon as an earlier instance is absent from the argmax; true: the
  // instance's own obj_id[j].
  bool ids_by_instance = false;
};
Pan2ch unify_frame(const std::vector<int64_t>& seg, const std::vector<int64_t>& pan, int width, int height,
                   const std::vector<int64_t>& cls_ind, std::vector<int64_t> obj_id, int64_t num_stuff = 11,
                   int64_t stuff_area_limit = 2048, const UnifyRules& rules = {});

// Segment ids of one prediction set: a stuff class's pixels are one segment with the category colour's
// id; each (class, object) pair of a video keeps one id over the video (fresh ids never collide with
// a stuff colour or void).
class SegmentIds {
 public:
  explicit SegmentIds(const std::vector<data::Category>& cats);
  void new_video() { things_.clear(), renumbered_.clear(); }
  // The panoptic id image of a frame and its segments_info (id, category_id, iscrowd, bbox, area).
  std::vector<uint32_t> encode(const Pan2ch& p, nlohmann::json* segments_info);
  // Merging shards (infer/shards.h): the id this set gives a thing segment that another set (a shard
  // holding a subset of the videos) numbered `id` in the current video; stuff and void ids stay. Fed
  // the shard's pixels in encode's order, it hands out the ids a single set would have.
  uint32_t renumber(uint32_t id);

 private:
  uint32_t fresh();

  std::map<int, uint32_t> stuff_id_;
  std::map<std::pair<int, int>, uint32_t> things_;
  std::map<uint32_t, uint32_t> renumbered_;
  std::map<uint32_t, bool> used_;
  uint32_t next_ = 1;
};

}  // namespace vps::infer
