#include "infer/pan_export.h"

#include <algorithm>
#include <set>

#include "tensor/check.h"

namespace vps::infer {

Pan2ch unify_frame(const std::vector<int64_t>& seg, const std::vector<int64_t>& pan, int width, int height,
                   const std::vector<int64_t>& cls_ind, std::vector<int64_t> obj_id, int64_t num_stuff,
                   int64_t stuff_area_limit, const UnifyRules& rules) {
  const size_t n = size_t(width) * size_t(height);
  VPS_CHECK(seg.size() == n && pan.size() == n, "unify_frame: maps of ", seg.size(), " and ", pan.size(),
            " pixels for a ", width, "x", height, " frame");
  VPS_CHECK(cls_ind.size() == obj_id.size(), "unify_frame: ", cls_ind.size(), " labels but ", obj_id.size(), " object ids");
  // 1. duplicate object ids: the later occurrences (scanning from the end) get fresh ids from 100
  int64_t fresh = 100;
  for (size_t i = obj_id.size(); i-- > 0;)
    if (std::count(obj_id.begin(), obj_id.begin() + long(i), obj_id[i]) > 0) obj_id[i] = fresh++;
  Pan2ch p;
  p.width = width, p.height = height;
  p.seg.resize(n), p.ins.resize(n), p.obj.resize(n);
  std::set<int64_t> present;
  for (size_t k = 0; k < n; ++k) {
    p.seg[k] = uint8_t(pan[k]);
    p.obj[k] = uint8_t(pan[k]);
    p.ins[k] = pan[k] <= num_stuff - 1 ? 0 : uint8_t(pan[k]);
    if (pan[k] >= num_stuff) present.insert(pan[k]);
  }
  // 2. per instance channel present in the argmax, in ascending order (idx = its rank among them)
  int64_t idx = 0;
  for (int64_t id : present) {
    size_t j = size_t(id - num_stuff);
    VPS_CHECK(j < cls_ind.size(), "unify_frame: panoptic value ", id, " but only ", cls_ind.size(), " kept instances");
    std::map<int64_t, int64_t> count;
    int64_t total = 0;
    for (size_t k = 0; k < n; ++k)
      if (pan[k] == id) ++count[seg[k]], ++total;
    int64_t major = count.begin()->first, best = 0;  // np.unique order: the smallest class wins ties
    for (auto& [c, m] : count)
      if (m > best) major = c, best = m;
    int64_t thing = cls_ind[j] + num_stuff - 1;
    bool stuff_wins = major != thing && double(best) / double(total) >= rules.stuff_majority && major <= num_stuff - 1;
    int64_t obj = obj_id[size_t(std::min<int64_t>(rules.ids_by_instance ? int64_t(j) : idx, int64_t(obj_id.size()) - 1))];
    for (size_t k = 0; k < n; ++k) {
      if (pan[k] != id) continue;
      if (stuff_wins) {
        p.seg[k] = uint8_t(major), p.ins[k] = 0, p.obj[k] = 0;
      } else {
        p.seg[k] = uint8_t(thing), p.ins[k] = uint8_t(idx + 1);
        p.obj[k] = uint8_t(obj + 1);
      }
    }
    ++idx;
  }
  // 3. small stuff classes become void
  std::map<int, int64_t> area;
  for (size_t k = 0; k < n; ++k)
    if (p.seg[k] <= num_stuff - 1) ++area[p.seg[k]];
  for (size_t k = 0; k < n; ++k)
    if (p.seg[k] <= num_stuff - 1 && area[p.seg[k]] < stuff_area_limit) p.seg[k] = 255;
  return p;
}

SegmentIds::SegmentIds(const std::vector<data::Category>& cats) {
  for (const auto& c : cats)
    if (!c.isthing) {
      uint32_t id = data::rgb2id(c.color[0], c.color[1], c.color[2]);
      stuff_id_[c.id] = id;
      used_[id] = true;
    }
  used_[data::kVoidId] = true;
}

uint32_t SegmentIds::fresh() {
  while (used_.count(next_)) ++next_;
  used_[next_] = true;
  return next_;
}

uint32_t SegmentIds::renumber(uint32_t id) {
  if (id == data::kVoidId) return id;
  for (const auto& [cls, stuff] : stuff_id_)
    if (stuff == id) return id;
  auto it = renumbered_.find(id);
  if (it == renumbered_.end()) it = renumbered_.emplace(id, fresh()).first;
  return it->second;
}

std::vector<uint32_t> SegmentIds::encode(const Pan2ch& p, nlohmann::json* segments_info) {
  const size_t n = p.seg.size();
  std::vector<uint32_t> ids(n, data::kVoidId);
  std::map<uint32_t, int> category;
  for (size_t k = 0; k < n; ++k) {
    int sem = p.seg[k];
    if (sem == 255) continue;
    uint32_t id;
    if (p.ins[k] > 0) {  // a thing segment: one id per (class, object) over the video
      auto key = std::make_pair(sem, int(p.obj[k]));
      auto it = things_.find(key);
      if (it == things_.end()) it = things_.emplace(key, fresh()).first;
      id = it->second;
    } else {
      auto it = stuff_id_.find(sem);
      VPS_CHECK(it != stuff_id_.end(), "pan export: class ", sem, " is neither a stuff category nor an instance");
      id = it->second;
    }
    ids[k] = id;
    category[id] = sem;
  }
  std::map<uint32_t, std::array<int64_t, 5>> box;  // x0, y0, x1, y1, area
  for (size_t k = 0; k < n; ++k) {
    if (ids[k] == data::kVoidId) continue;
    int64_t x = int64_t(k % size_t(p.width)), y = int64_t(k / size_t(p.width));
    auto [it, fresh] = box.emplace(ids[k], std::array<int64_t, 5>{x, y, x, y, 0});
    auto& b = it->second;
    b[0] = std::min(b[0], x), b[1] = std::min(b[1], y), b[2] = std::max(b[2], x), b[3] = std::max(b[3], y), ++b[4];
  }
  *segments_info = nlohmann::json::array();
  for (auto& [id, b] : box)
    segments_info->push_back({{"id", id}, {"category_id", category[id]}, {"iscrowd", 0},
                              {"bbox", {b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1}}, {"area", b[4]}});
  return ids;
}

}  // namespace vps::infer
