#include "data/viper_layout.h"

#include <cstdio>

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::data {

using nlohmann::json;

int viper_id_of_cityscapes(int train_id) {
  VPS_CHECK(train_id >= 0 && train_id <= 18, "VIPER layout: Cityscapes train id ", train_id, " out of 0..18");
  return train_id <= 10 ? train_id : train_id + 2;
}

const std::vector<Category>& viper_synthetic_categories() {
  static const std::vector<Category> cats = [] {
    std::vector<Category> c(23);
    for (int id = 0; id < 23; ++id) {
      c[size_t(id)].id = id;
      c[size_t(id)].isthing = id >= 13;
      c[size_t(id)].name = "unused_" + std::to_string(id);
      c[size_t(id)].color = {uint8_t(40 + 9 * id), uint8_t(40 + 9 * id), uint8_t(40 + 9 * id)};
    }
    for (const Category& k : cityscapes_categories()) {
      Category& v = c[size_t(viper_id_of_cityscapes(k.id))];
      v.name = k.name, v.color = k.color;
    }
    return c;
  }();
  return cats;
}

namespace {

void copy_file(const std::string& from, const std::string& to) {
  std::vector<uint8_t> b = read_file_bytes(from);
  write_file_atomic(to, b.data(), b.size());
}

void write_split(const std::string& in, const std::string& out, const std::string& split, int label_every) {
  const std::string gt_path = join_path(in, "panoptic_gt_" + split + "_city_vps.json");
  json gt = read_json(gt_path);
  make_dirs(join_path(out, split + "/img"));
  make_dirs(join_path(out, split + "/panoptic_video"));
  for (const auto& im : json_at(gt, "images", gt_path)) {
    std::string file = checked_path_component(json_str(im, "file_name", gt_path), gt_path + " file_name");
    copy_file(join_path(in, split + "/img/" + file), join_path(out, split + "/img/" + file));
  }
  for (auto& a : gt["annotations"]) {
    std::string file = checked_path_component(json_str(a, "file_name", gt_path), gt_path + " file_name");
    copy_file(join_path(in, split + "/panoptic_video/" + file), join_path(out, split + "/panoptic_video/" + file));
    for (auto& s : a["segments_info"]) s["category_id"] = viper_id_of_cityscapes(int(json_int(s, "category_id", gt_path)));
  }
  gt["categories"] = categories_to_json(viper_synthetic_categories());
  write_json(join_path(out, "viper_panoptic_" + split + "_video.json"), gt);

  const std::string inst_path = join_path(in, "instances_" + split + "_city_vps_rle.json");
  if (!path_exists(inst_path)) return;
  json inst = read_json(inst_path);
  for (auto& a : inst["annotations"]) a["category_id"] = viper_id_of_cityscapes(int(json_int(a, "category_id", inst_path)));
  inst["categories"] = json::array();
  for (const Category& c : viper_synthetic_categories())
    if (c.isthing) inst["categories"].push_back({{"id", c.id}, {"name", c.name}, {"supercategory", "thing"}});
  char name[96];
  std::snprintf(name, sizeof name, "instances_%s_%02d_viper_coco.json", split.c_str(), label_every);
  write_json(join_path(out, name), inst);
}

}  // namespace

void write_viper_layout(const std::string& cityscapes_vps_root, const std::string& out_root,
                        const std::vector<std::string>& splits, int label_every) {
  for (const std::string& split : splits)
    if (path_exists(join_path(cityscapes_vps_root, "panoptic_gt_" + split + "_city_vps.json")))
      write_split(cityscapes_vps_root, out_root, split, label_every);
}

}  // namespace vps::data
