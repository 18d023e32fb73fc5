#include "data/cityscapes_vps.h"

#include <algorithm>
#include <cctype>

#include "data/fs_util.h"
#include "data/rle.h"
#include "tensor/check.h"

namespace vps::data {

using nlohmann::json;

namespace {

std::string id_string(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

constexpr int64_t kMaxSide = 1 << 20;  // largest image side a JSON index may declare

}  // namespace

namespace {

// The "images" list of an index JSON -> frames sorted by name. Video ids: a "video_id" field, else the
// leading digits of the id up to the first '_' (Cityscapes-VPS: exactly 4).
std::vector<CvpsFrame> frames_of_images(const json& index, const std::string& path, bool cityscapes) {
  std::vector<CvpsFrame> frames;
  std::map<std::string, size_t> seen;
  for (const auto& e : json_at(index, "images", path)) {
    CvpsFrame f;
    f.name = id_string(json_at(e, "id", path + " images[]"));
    std::string w = path + " image " + f.name;
    f.image_file = checked_path_component(json_str(e, "file_name", w), w + " file_name");
    if (cityscapes) f.label_file = cityscapes_label_name(f.image_file);
    f.width = int(json_int(e, "width", w, 1, kMaxSide));
    f.height = int(json_int(e, "height", w, 1, kMaxSide));
    if (cityscapes || !e.contains("video_id")) {
      size_t us = f.name.find('_');
      VPS_CHECK(!cityscapes || us == 4, path, ": image id '", f.name, "' does not start with a 4-digit video id");
      VPS_CHECK(us != std::string::npos && us >= 1 && us <= 9 &&
                    std::all_of(f.name.begin(), f.name.begin() + long(us), [](char c) { return std::isdigit(c); }),
                w, ": image id '", f.name, "' does not start with a numeric video id and '_' (and has no video_id)");
      f.video = std::stoi(f.name.substr(0, us));
    } else {
      f.video = int(json_int(e, "video_id", w, 0, INT32_MAX));
    }
    if (e.contains("frame_id")) f.frame_index = int(json_int(e, "frame_id", w, 0, INT32_MAX));
    VPS_CHECK(seen.emplace(f.name, frames.size()).second, w, ": duplicate image id");
    frames.push_back(f);
  }
  std::sort(frames.begin(), frames.end(), [](const CvpsFrame& a, const CvpsFrame& b) { return a.name < b.name; });
  return frames;
}

// The "annotations" of a COCO panoptic JSON: each frame's label file and segments.
void read_segments(const json& gt, const std::string& gt_path, const std::string& index_path,
                   const std::map<std::string, size_t>& by_name, std::vector<CvpsFrame>& frames) {
  for (const auto& a : json_at(gt, "annotations", gt_path)) {
    std::string id = id_string(json_at(a, "image_id", gt_path + " annotations[]"));
    std::string w = gt_path + " annotation of image " + id;
    auto it = by_name.find(id);
    VPS_CHECK(it != by_name.end(), w, ": image id not in ", index_path);
    CvpsFrame& f = frames[it->second];
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

}  // namespace

DatasetFormat dataset_format_from_string(const std::string& s, const std::string& where) {
  if (s == "cityscapes_vps") return DatasetFormat::cityscapes_vps;
  VPS_CHECK(s == "viper", where, ": unknown dataset format '", s, "' (cityscapes_vps or viper)");
  return DatasetFormat::viper;
}

CityscapesVps::CityscapesVps(const std::string& root, const std::string& split, DatasetFormat format)
    : root_(root), split_(split), format_(format) {
  if (format == DatasetFormat::viper) {
    read_viper_index();
    return;
  }
  VPS_CHECK(split == "train" || split == "val" || split == "test", "Cityscapes-VPS: unknown split '", split, "'");
  std::string im_path = join_path(root, "panoptic_im_" + split + "_city_vps.json");
  json im = read_json(im_path);
  categories_ = im.contains("categories") ? categories_from_json(im["categories"], im_path) : cityscapes_categories();
  frames_ = frames_of_images(im, im_path, true);
  std::map<std::string, size_t> by_name, by_file;
  for (size_t i = 0; i < frames_.size(); ++i) by_name[frames_[i].name] = i, by_file[frames_[i].image_file] = i;

  std::string gt_path = join_path(root, "panoptic_gt_" + split + "_city_vps.json");
  if (path_exists(gt_path)) {
    has_panoptic_ = true;
    read_segments(read_json(gt_path), gt_path, im_path, by_name, frames_);
  }
  std::string inst_path = join_path(root, "instances_" + split + "_city_vps_rle.json");
  if (path_exists(inst_path)) read_instances_json(inst_path, by_file);
  index_videos();
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
      if (e.contains("width") || e.contains("height")) {
        a.width = int(json_int(e, "width", w, 1, kMaxSide));
        a.height = int(json_int(e, "height", w, 1, kMaxSide));
      }
      all_.push_back(a);
    }
    std::sort(all_.begin(), all_.end(), [](const CvpsAllFrame& a, const CvpsAllFrame& b) { return a.id < b.id; });
    for (size_t j = 0; j < all_.size(); ++j) video(all_[j].video).all.push_back(j);
  }
}

void CityscapesVps::read_viper_index() {
  VPS_CHECK(!split_.empty() && split_.size() <= 64 && std::all_of(split_.begin(), split_.end(), [](char c) {
              return std::islower(c) || std::isdigit(c) || c == '_';
            }),
            "VIPER: split '", split_, "' must be a name of [a-z0-9_] (e.g. train, val_day)");
  num_classes_ = 23, first_thing_ = 13, last_thing_ = 22;
  std::string gt_path = join_path(root_, "viper_panoptic_" + split_ + "_video.json");
  json gt = read_json(gt_path);
  categories_ = categories_from_json(json_at(gt, "categories", gt_path), gt_path);
  frames_ = frames_of_images(gt, gt_path, false);
  std::map<std::string, size_t> by_name, by_file;
  for (size_t i = 0; i < frames_.size(); ++i) by_name[frames_[i].name] = i, by_file[frames_[i].image_file] = i;
  has_panoptic_ = true;
  read_segments(gt, gt_path, gt_path, by_name, frames_);
  for (const CvpsFrame& f : frames_)
    VPS_CHECK(!f.label_file.empty(), gt_path, ": image ", f.name, " has no annotation (every VIPER frame is labelled)");
  const std::string prefix = "instances_" + split_ + "_";
  std::vector<std::string> inst;
  for (const std::string& f : list_files(root_, "_viper_coco.json"))
    if (f.rfind(prefix, 0) == 0) inst.push_back(f);
  VPS_CHECK(inst.size() <= 1, "VIPER: more than one instances file for split ", split_, " in ", root_, " (", inst[0],
            ", ", inst[1], ")");
  if (!inst.empty()) read_instances_json(join_path(root_, inst[0]), by_file);
  index_videos();
  // every frame is a video frame too: the video runner walks them in time order
  for (CvpsVideo& v : videos_)
    for (size_t i : v.labelled) {
      CvpsFrame& f = frames_[i];
      if (f.frame_index == 0) f.frame_index = f.rank + 1;
      v.all.push_back(all_.size());
      all_.push_back(CvpsAllFrame{int64_t(v.id) * 10000 + f.frame_index, v.id, f.frame_index, f.image_file});
    }
}

// COCO instances (RLE masks, track ids in inst_id): the categories in id order become the thing train ids.
void CityscapesVps::read_instances_json(const std::string& inst_path, const std::map<std::string, size_t>& by_file) {
  has_instances_ = true;
  json inst = read_json(inst_path);
  std::vector<int> cat_ids;
  for (const auto& c : json_at(inst, "categories", inst_path))
    cat_ids.push_back(int(json_int(c, "id", inst_path + " categories[]", 0, INT32_MAX)));
  std::sort(cat_ids.begin(), cat_ids.end());
  VPS_CHECK(int(cat_ids.size()) <= last_thing_ - first_thing_ + 1, inst_path, ": ", cat_ids.size(),
            " thing categories, the dataset has ", last_thing_ - first_thing_ + 1);
  for (size_t k = 0; k < cat_ids.size(); ++k) thing_label_[cat_ids[k]] = first_thing_ + int(k);
  std::map<int64_t, size_t> by_coco;
  for (const auto& e : json_at(inst, "images", inst_path)) {
    int64_t id = json_int(e, "id", inst_path + " images[]");
    std::string w = inst_path + " image " + std::to_string(id);
    std::string file = checked_path_component(json_str(e, "file_name", w), w + " file_name");
    auto it = by_file.find(file);
    VPS_CHECK(it != by_file.end(), w, ": file '", file, "' is not listed in the split's index");
    by_coco[id] = it->second;
    if (e.contains("frame_id")) frames_[it->second].frame_index = int(json_int(e, "frame_id", w, 0, INT32_MAX));
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

CvpsVideo& CityscapesVps::video(int id) {  // the video of that id, appended when new
  if (videos_.empty() || videos_.back().id != id) {  // frames come sorted: the last one is the usual hit
    auto it = std::find_if(videos_.begin(), videos_.end(), [id](const CvpsVideo& v) { return v.id == id; });
    if (it != videos_.end()) return *it;
    videos_.push_back(CvpsVideo{id, {}, {}});
  }
  return videos_.back();
}

void CityscapesVps::index_videos() {
  for (size_t i = 0; i < frames_.size(); ++i) {
    CvpsVideo& v = video(frames_[i].video);
    frames_[i].rank = int(v.labelled.size());
    v.labelled.push_back(i);
  }
}

std::string CityscapesVps::image_path(size_t i) const {
  VPS_CHECK(i < frames_.size(), "Cityscapes-VPS ", split_, ": frame ", i, " out of range (", frames_.size(), ")");
  return join_path(root_, split_ + "/img/" + frames_[i].image_file);
}

std::string CityscapesVps::all_frame_path(size_t j) const {
  VPS_CHECK(j < all_.size(), "Cityscapes-VPS ", split_, ": img_all frame ", j, " out of range");
  return join_path(root_, split_ + (format_ == DatasetFormat::viper ? "/img/" : "/img_all/") + all_[j].file);
}

CvpsSample CityscapesVps::load(size_t i) const {
  std::string img_path = image_path(i);
  const CvpsFrame& f = frames_[i];
  CvpsSample s;
  ImageLimits lim;  // the image must have the size its JSON entry gives (checked before decoding)
  if (f.width > 0) lim.expect_width = f.width, lim.expect_height = f.height, lim.expect_what = "the dataset's JSON";
  s.image = read_image(img_path, lim);
  int W = s.image.width, H = s.image.height;
  VPS_CHECK(s.image.channels >= 3 || s.image.channels == 1, img_path, ": unsupported channel count");
  const bool viper = format_ == DatasetFormat::viper;
  if (split_ != "test" && !viper) {
    std::string lab_path = join_path(root_, split_ + "/labelmap/" + f.label_file);
    Image lab = read_png(lab_path);
    VPS_CHECK(lab.width == W && lab.height == H && lab.channels == 1 && lab.bit_depth == 8, lab_path, " (image ",
              f.name, "): expected an 8-bit gray ", W, "x", H, " label map");
    s.semantic = lab.data8;
    for (auto& v : s.semantic)
      if (v >= num_classes_) v = kIgnoreLabel;
  }
  std::vector<uint32_t> ids;  // the panoptic PNG's segment ids, when needed
  if (viper || (!has_instances_ && has_panoptic_)) {
    std::string pan_path = join_path(root_, split_ + "/panoptic_video/" + f.label_file);
    Image pan = read_png(pan_path);
    VPS_CHECK(pan.width == W && pan.height == H, pan_path, " (image ", f.name, "): size ", pan.width, "x", pan.height,
              " differs from the image ", W, "x", H);
    ids = image_to_ids(pan, pan_path);
  }
  if (viper) {  // semantic GT = each segment's category (identity viper_new2old), void elsewhere
    std::map<uint32_t, uint8_t> cat;
    for (const auto& g : f.segments)
      cat[g.id] = g.category_id < num_classes_ ? uint8_t(g.category_id) : uint8_t(kIgnoreLabel);
    s.semantic.assign(ids.size(), uint8_t(kIgnoreLabel));
    for (size_t p = 0; p < ids.size(); ++p) {
      auto it = cat.find(ids[p]);
      if (it != cat.end()) s.semantic[p] = it->second;
    }
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
    for (const auto& g : f.segments) {
      if (g.category_id < first_thing_ || g.category_id > last_thing_) continue;
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
