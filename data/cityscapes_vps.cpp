#include "data/cityscapes_vps.h"

#include <algorithm>
#include <cctype>

#include "data/fs_util.h"
#include "data/rle.h"
#include "tensor/check.h"

namespace vps::data {

using nlohmann::json;

namespace {

int video_of(const std::string& name, const std::string& where) {
  VPS_CHECK(name.size() >= 5 && std::all_of(name.begin(), name.begin() + 4, [](char c) { return std::isdigit(c); }) &&
                name[4] == '_',
            where, ": image id '", name, "' does not start with a 4-digit video id");
  return std::stoi(name.substr(0, 4));
}

std::string id_string(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

constexpr int64_t kMaxSide = 1 << 20;  // largest image side a JSON index may declare

}  // namespace

CityscapesVps::CityscapesVps(const std::string& root, const std::string& split) : root_(root), split_(split) {
  VPS_CHECK(split == "train" || split == "val" || split == "test", "Cityscapes-VPS: unknown split '", split, "'");
  std::string im_path = join_path(root, "panoptic_im_" + split + "_city_vps.json");
  json im = read_json(im_path);
  categories_ = im.contains("categories") ? categories_from_json(im["categories"], im_path) : cityscapes_categories();
  std::map<std::string, size_t> by_name, by_file;
  for (const auto& e : json_at(im, "images", im_path)) {
    CvpsFrame f;
    f.name = id_string(json_at(e, "id", im_path + " images[]"));
    std::string w = im_path + " image " + f.name;
    f.image_file = checked_path_component(json_str(e, "file_name", w), w + " file_name");
    f.label_file = cityscapes_label_name(f.image_file);
    f.width = int(json_int(e, "width", w, 1, kMaxSide));
    f.height = int(json_int(e, "height", w, 1, kMaxSide));
    f.video = video_of(f.name, im_path);
    VPS_CHECK(!by_name.count(f.name), w, ": duplicate image id");
    by_name[f.name] = frames_.size();
    frames_.push_back(f);
  }
  std::sort(frames_.begin(), frames_.end(), [](const CvpsFrame& a, const CvpsFrame& b) { return a.name < b.name; });
  by_name.clear();
  for (size_t i = 0; i < frames_.size(); ++i) by_name[frames_[i].name] = i, by_file[frames_[i].image_file] = i;

  std::string gt_path = join_path(root, "panoptic_gt_" + split + "_city_vps.json");
  if (path_exists(gt_path)) {
    has_panoptic_ = true;
    json gt = read_json(gt_path);
    for (const auto& a : json_at(gt, "annotations", gt_path)) {
      std::string id = id_string(json_at(a, "image_id", gt_path + " annotations[]"));
      std::string w = gt_path + " annotation of image " + id;
      auto it = by_name.find(id);
      VPS_CHECK(it != by_name.end(), w, ": image id not in ", im_path);
      CvpsFrame& f = frames_[it->second];
      f.label_file = checked_path_component(json_str(a, "file_name", w), w + " file_name");
      for (const auto& s : json_at(a, "segments_info", w)) {
        CvpsSegment g;
        g.id = uint32_t(json_int(s, "id", w, 0, 0xffffff));  // an RGB-encoded id has 24 bits
        g.category_id = int(json_int(s, "category_id", w, 0, INT32_MAX));
        g.iscrowd = int(json_int(s, "iscrowd", w, 0, 1));
        g.area = json_int(s, "area", w, 0, INT64_MAX);
        if (s.contains("bbox") && s["bbox"].is_array() && s["bbox"].size() == 4)
          for (size_t k = 0; k < 4; ++k) {
            double v = json_number_at(s["bbox"], k, w + " bbox");
            VPS_CHECK(v >= -kMaxSide && v <= kMaxSide, w, ": bbox value ", v, " out of range");
            g.bbox[k] = int(v);
          }
        f.segments.push_back(g);
      }
    }
  }

  std::string inst_path = join_path(root, "instances_" + split + "_city_vps_rle.json");
  if (path_exists(inst_path)) {
    has_instances_ = true;
    json inst = read_json(inst_path);
    std::vector<int> cat_ids;
    for (const auto& c : json_at(inst, "categories", inst_path))
      cat_ids.push_back(int(json_int(c, "id", inst_path + " categories[]", 0, INT32_MAX)));
    std::sort(cat_ids.begin(), cat_ids.end());
    for (size_t k = 0; k < cat_ids.size(); ++k) thing_label_[cat_ids[k]] = 11 + int(k);  // labels 1..8 -> 11..18
    std::map<int64_t, size_t> by_coco;
    for (const auto& e : json_at(inst, "images", inst_path)) {
      int64_t id = json_int(e, "id", inst_path + " images[]");
      std::string file = checked_path_component(json_str(e, "file_name", inst_path + " image " + std::to_string(id)),
                                                inst_path + " image " + std::to_string(id) + " file_name");
      auto it = by_file.find(file);
      VPS_CHECK(it != by_file.end(), inst_path, " image ", id, ": file '", file, "' is not listed in ", im_path);
      by_coco[id] = it->second;
      if (e.contains("frame_id")) frames_[it->second].frame_index = int(json_int(e, "frame_id", inst_path + " image " + std::to_string(id), 0, INT32_MAX));
    }
    for (const auto& a : json_at(inst, "annotations", inst_path)) {
      int64_t img = json_int(a, "image_id", inst_path + " annotations[]");
      std::string w = inst_path + " annotation " + (a.contains("id") ? a["id"].dump() : "?") + " (image " +
                      std::to_string(img) + ")";
      auto it = by_coco.find(img);
      VPS_CHECK(it != by_coco.end(), w, ": image_id not in the images list");
      CvpsAnnotation an;
      int cat = int(json_int(a, "category_id", w, 0, INT32_MAX));
      VPS_CHECK(thing_label_.count(cat), w, ": unknown category_id ", cat);
      an.category_id = thing_label_[cat];
      an.inst_id = a.contains("inst_id") ? int(json_int(a, "inst_id", w, INT32_MIN, INT32_MAX)) : 0;
      an.iscrowd = a.contains("iscrowd") ? int(json_int(a, "iscrowd", w, 0, 1)) : 0;
      const json& bb = json_at(a, "bbox", w);
      VPS_CHECK(bb.is_array() && bb.size() == 4, w, ": bbox must have 4 numbers");
      for (size_t k = 0; k < 4; ++k) an.bbox[k] = json_number_at(bb, k, w + " bbox");
      bool ignore = (a.contains("ignore") && a["ignore"].is_boolean() && a["ignore"].get<bool>()) ||
                    (a.contains("area") && json_number(a, "area", w) <= 0) || an.bbox[2] < 1 || an.bbox[3] < 1;
      if (ignore) continue;
      an.segmentation = json_at(a, "segmentation", w);
      frames_[it->second].annotations.push_back(std::move(an));
    }
  }

  std::map<int, size_t> vid_index;
  auto video = [&](int id) -> CvpsVideo& {
    auto it = vid_index.find(id);
    if (it == vid_index.end()) {
      it = vid_index.emplace(id, videos_.size()).first;
      videos_.push_back(CvpsVideo{id, {}, {}});
    }
    return videos_[it->second];
  };
  for (size_t i = 0; i < frames_.size(); ++i) {
    CvpsVideo& v = video(frames_[i].video);
    frames_[i].rank = int(v.labelled.size());
    v.labelled.push_back(i);
  }
  std::string all_path = join_path(root, "im_all_info_" + split + "_city_vps.json");
  if (path_exists(all_path)) {
    json all = read_json(all_path);
    for (const auto& e : json_at(all, "images", all_path)) {
      CvpsAllFrame a;
      a.id = json_int(e, "id", all_path + " images[]", 0, 9999LL * 10000 + 9999);  // video * 10000 + frame
      a.video = int(a.id / 10000);
      a.frame_index = int(a.id % 10000);
      std::string w = all_path + " image " + std::to_string(a.id);
      a.file = checked_path_component(json_str(e, "file_name", w), w + " file_name");
      all_.push_back(a);
    }
    std::sort(all_.begin(), all_.end(), [](const CvpsAllFrame& a, const CvpsAllFrame& b) { return a.id < b.id; });
    for (size_t j = 0; j < all_.size(); ++j) video(all_[j].video).all.push_back(j);
  }
}

std::string CityscapesVps::image_path(size_t i) const {
  VPS_CHECK(i < frames_.size(), "Cityscapes-VPS ", split_, ": frame ", i, " out of range (", frames_.size(), ")");
  return join_path(root_, split_ + "/img/" + frames_[i].image_file);
}

std::string CityscapesVps::all_frame_path(size_t j) const {
  VPS_CHECK(j < all_.size(), "Cityscapes-VPS ", split_, ": img_all frame ", j, " out of range");
  return join_path(root_, split_ + "/img_all/" + all_[j].file);
}

CvpsSample CityscapesVps::load(size_t i) const {
  std::string img_path = image_path(i);
  const CvpsFrame& f = frames_[i];
  CvpsSample s;
  s.image = read_image(img_path);
  int W = s.image.width, H = s.image.height;
  VPS_CHECK(s.image.channels >= 3 || s.image.channels == 1, img_path, ": unsupported channel count");
  std::string lab_path = join_path(root_, split_ + "/labelmap/" + f.label_file);
  if (split_ != "test") {
    Image lab = read_png(lab_path);
    VPS_CHECK(lab.width == W && lab.height == H && lab.channels == 1 && lab.bit_depth == 8, lab_path, " (image ",
              f.name, "): expected an 8-bit gray ", W, "x", H, " label map");
    s.semantic = lab.data8;
    for (auto& v : s.semantic)
      if (v > 18) v = kIgnoreLabel;
  }
  auto finish_box = [&](CvpsInstance& in) {
    int x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        if (in.mask[size_t(y) * W + x]) x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    return x1 >= 0 ? (in.box = {float(x0), float(y0), float(x1), float(y1)}, true) : false;
  };
  if (has_instances_) {
    for (size_t k = 0; k < f.annotations.size(); ++k) {
      const CvpsAnnotation& a = f.annotations[k];
      CvpsInstance in;
      in.category_id = a.category_id;
      in.obj_id = a.inst_id;
      in.iscrowd = a.iscrowd == 1;
      in.mask = rle_decode(a.segmentation, H, W, "instances json, image " + f.name);
      in.box = {float(a.bbox[0]), float(a.bbox[1]), float(a.bbox[0] + a.bbox[2] - 1), float(a.bbox[1] + a.bbox[3] - 1)};
      s.instances.push_back(std::move(in));
    }
  } else if (has_panoptic_) {
    std::string pan_path = join_path(root_, split_ + "/panoptic_video/" + f.label_file);
    Image pan = read_png(pan_path);
    VPS_CHECK(pan.width == W && pan.height == H, pan_path, " (image ", f.name, "): size ", pan.width, "x", pan.height,
              " differs from the image ", W, "x", H);
    std::vector<uint32_t> ids = image_to_ids(pan, pan_path);
    for (const auto& g : f.segments) {
      if (g.category_id < 11 || g.category_id > 18) continue;
      CvpsInstance in;
      in.category_id = g.category_id;
      in.obj_id = int(g.id);
      in.iscrowd = g.iscrowd == 1;
      in.mask.assign(ids.size(), 0);
      for (size_t p = 0; p < ids.size(); ++p) in.mask[p] = ids[p] == g.id;
      if (finish_box(in)) s.instances.push_back(std::move(in));
    }
  }
  return s;
}

std::vector<size_t> CityscapesVps::neighbours(size_t i, int radius) const {
  VPS_CHECK(i < frames_.size(), "Cityscapes-VPS ", split_, ": frame ", i, " out of range");
  std::vector<size_t> out;
  for (const auto& v : videos_) {
    if (v.id != frames_[i].video) continue;
    for (size_t j : v.labelled)
      if (j != i && std::abs(frames_[j].rank - frames_[i].rank) <= radius) out.push_back(j);
  }
  return out;
}

}  // namespace vps::data
