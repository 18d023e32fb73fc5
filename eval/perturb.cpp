#include "eval/perturb.h"

#include <algorithm>
#include <map>
#include <set>

#include "data/fs_util.h"
#include "data/panoptic.h"
#include "eval/pan_set.h"
#include "tensor/check.h"

namespace vps::eval {

using nlohmann::json;

Perturb parse_perturb(const std::string& s) {
  static const std::map<std::string, Perturb> m = {{"none", Perturb::kNone},   {"drop", Perturb::kDrop},
                                                   {"swap", Perturb::kSwap},   {"erode", Perturb::kErode},
                                                   {"class", Perturb::kClass}, {"merge", Perturb::kMerge}};
  auto it = m.find(s);
  VPS_CHECK(it != m.end(), "unknown perturbation '", s, "' (none, drop, swap, erode, class, merge)");
  return it->second;
}

namespace {

bool selected(uint32_t id, int percent) {
  uint32_t h = id * 2654435761u;
  h ^= h >> 16;
  return int(h % 100) < percent;
}

void erode(std::vector<uint32_t>& ids, int w, int h, int r, const std::set<uint32_t>& things) {
  std::vector<uint32_t> src = ids;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint32_t v = src[size_t(y) * w + x];
      if (!things.count(v)) continue;
      bool edge = false;
      for (int dy = -r; dy <= r && !edge; ++dy)
        for (int dx = -r; dx <= r && !edge; ++dx) {
          int xx = x + dx, yy = y + dy;
          edge = xx < 0 || yy < 0 || xx >= w || yy >= h || src[size_t(yy) * w + xx] != v;
        }
      if (edge) ids[size_t(y) * w + x] = data::kVoidId;
    }
}

}  // namespace

void write_perturbed_prediction(const std::string& gt_dir, const std::string& gt_json, const std::string& out_dir,
                                const PerturbOptions& opt) {
  json gt = data::read_json(gt_json);
  std::vector<data::Category> cats = data::categories_from_json(data::json_at(gt, "categories", gt_json), gt_json);
  std::map<int, bool> isthing;
  for (const auto& c : cats) isthing[c.id] = c.isthing;
  const json& images = data::json_at(gt, "images", gt_json);
  const json& anns = data::json_at(gt, "annotations", gt_json);
  VPS_CHECK(images.size() == anns.size(), gt_json, ": images and annotations differ in length");
  std::vector<std::string> names;
  for (size_t i = 0; i < images.size(); ++i) {
    std::string w = gt_json + " images[" + std::to_string(i) + "]";
    names.push_back(data::cityscapes_label_name(
        data::checked_path_component(data::json_str(images[i], "file_name", w), w + " file_name")));
  }
  std::sort(names.begin(), names.end());
  auto has = [&](Perturb p) { return std::find(opt.modes.begin(), opt.modes.end(), p) != opt.modes.end(); };
  data::make_dirs(data::join_path(out_dir, "pan_pred"));
  json out = {{"annotations", json::array()}};
  size_t nvid = std::max<size_t>(1, images.size() / size_t(std::max(1, opt.video_len)));
  auto videos = array_split(images.size(), nvid);
  uint32_t fresh = 1;  // new ids are drawn from a range no GT colour uses (low blue channel values)
  for (const auto& [b, e] : videos) {
    std::map<int, uint32_t> first_of_class;  // for kMerge
    std::map<uint32_t, uint32_t> swapped;    // for kSwap
    for (size_t i = b; i < e; ++i) {
      std::string where = gt_json + " annotations[" + std::to_string(i) + "]";
      std::string iw = gt_json + " images[" + std::to_string(i) + "]";
      const json& idj = data::json_at(images[i], "id", iw);
      std::string image_id = data::checked_path_component(idj.is_string() ? idj.get<std::string>() : idj.dump(), iw + " id");
      int w = 0, h = 0;
      data::ImageLimits lim;
      lim.max_pixels = opt.max_pixels;
      std::vector<uint32_t> ids = load_ids(data::join_path(gt_dir, names[i]), lim, &w, &h);
      std::map<uint32_t, int> cat_of;
      std::set<uint32_t> things;
      for (const auto& s : data::json_at(anns[i], "segments_info", where)) {
        uint32_t id = uint32_t(data::json_int(s, "id", where));
        int cat = int(data::json_int(s, "category_id", where));
        cat_of[id] = cat;
        if (isthing[cat] && data::json_int(s, "iscrowd", where) == 0) things.insert(id);
      }
      std::map<uint32_t, uint32_t> remap;
      std::map<uint32_t, int> new_cat;
      for (uint32_t id : things) {
        bool sel = selected(id, opt.percent);
        if (has(Perturb::kDrop) && sel) remap[id] = data::kVoidId;
        if (has(Perturb::kSwap) && sel && i - b >= (e - b) / 2) {
          if (!swapped.count(id)) swapped[id] = fresh++;
          remap[id] = swapped[id];
          cat_of[swapped[id]] = cat_of[id];
        }
        if (has(Perturb::kMerge) && sel) {
          auto f = first_of_class.emplace(cat_of[id], id).first;
          if (f->second != id) remap[id] = f->second, cat_of[f->second] = cat_of[id];
        }
        if (has(Perturb::kClass) && sel) new_cat[id] = 11 + (cat_of[id] - 11 + 1) % 8;
      }
      for (auto& v : ids) {
        auto it = remap.find(v);
        if (it != remap.end()) v = it->second;
      }
      if (has(Perturb::kErode)) {
        std::set<uint32_t> t2;
        for (uint32_t id : things) t2.insert(remap.count(id) ? remap[id] : id);
        erode(ids, w, h, opt.radius, t2);
      }
      std::map<uint32_t, int64_t> area;
      for (uint32_t v : ids)
        if (v != data::kVoidId) area[v]++;
      json si = json::array();
      for (const auto& [id, a] : area) {
        VPS_CHECK(cat_of.count(id), names[i], ": PNG id ", id, " is not in ", where);
        int cat = new_cat.count(id) ? new_cat[id] : cat_of[id];
        si.push_back({{"id", id}, {"category_id", cat}, {"iscrowd", 0}, {"area", a}});
      }
      data::write_png(data::join_path(out_dir, "pan_pred/" + image_id + ".png"), data::ids_to_image(ids, w, h), 1);
      out["annotations"].push_back({{"image_id", image_id}, {"segments_info", si}});
    }
  }
  data::write_json(data::join_path(out_dir, "pred.json"), out);
}

}  // namespace vps::eval
