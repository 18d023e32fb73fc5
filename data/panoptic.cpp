#include "data/panoptic.h"

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::data {

std::vector<uint32_t> image_to_ids(const Image& img, const std::string& name) {
  VPS_CHECK(img.bit_depth == 8 && (img.channels == 3 || img.channels == 4), "panoptic PNG '", name,
            "' must be 8-bit RGB, got ", img.channels, " channel(s) at ", img.bit_depth, " bits");
  std::vector<uint32_t> ids(img.pixels());
  const uint8_t* p = img.data8.data();
  for (size_t i = 0; i < ids.size(); ++i, p += img.channels) ids[i] = rgb2id(p[0], p[1], p[2]);
  return ids;
}

Image ids_to_image(const std::vector<uint32_t>& ids, int width, int height) {
  VPS_CHECK(ids.size() == size_t(width) * size_t(height), "ids_to_image: ", ids.size(), " ids for ", width, "x",
            height);
  Image img = Image::make(width, height, 3);
  for (size_t i = 0; i < ids.size(); ++i) {
    VPS_CHECK(ids[i] < (1u << 24), "ids_to_image: segment id ", ids[i], " does not fit in RGB");
    auto c = id2rgb(ids[i]);
    img.data8[3 * i] = c[0];
    img.data8[3 * i + 1] = c[1];
    img.data8[3 * i + 2] = c[2];
  }
  return img;
}

const std::vector<Category>& cityscapes_categories() {
  static const std::vector<Category> cats = {
      {0, "road", false, {128, 64, 128}},     {1, "sidewalk", false, {244, 35, 232}},
      {2, "building", false, {70, 70, 70}},   {3, "wall", false, {102, 102, 156}},
      {4, "fence", false, {190, 153, 153}},   {5, "pole", false, {153, 153, 153}},
      {6, "traffic light", false, {250, 170, 30}}, {7, "traffic sign", false, {220, 220, 0}},
      {8, "vegetation", false, {107, 142, 35}}, {9, "terrain", false, {152, 251, 152}},
      {10, "sky", false, {70, 130, 180}},     {11, "person", true, {220, 20, 60}},
      {12, "rider", true, {255, 0, 0}},       {13, "car", true, {0, 0, 142}},
      {14, "truck", true, {0, 0, 70}},        {15, "bus", true, {0, 60, 100}},
      {16, "train", true, {0, 80, 100}},      {17, "motorcycle", true, {0, 0, 230}},
      {18, "bicycle", true, {119, 11, 32}}};
  return cats;
}

nlohmann::json categories_to_json(const std::vector<Category>& cats) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : cats)
    out.push_back({{"id", c.id},
                   {"name", c.name},
                   {"supercategory", c.isthing ? "thing" : "stuff"},
                   {"isthing", c.isthing ? 1 : 0},
                   {"color", {c.color[0], c.color[1], c.color[2]}}});
  return out;
}

std::vector<Category> categories_from_json(const nlohmann::json& j, const std::string& where) {
  VPS_CHECK(j.is_array(), where, ": 'categories' must be a list");
  std::vector<Category> cats;
  for (const auto& e : j) {
    Category c;
    c.id = int(json_int(e, "id", where + " categories[]", 0, INT32_MAX));
    c.name = e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>() : std::to_string(c.id);
    std::string w = where + " category " + std::to_string(c.id);
    c.isthing = json_int(e, "isthing", w) == 1;
    if (e.contains("color") && e["color"].is_array() && e["color"].size() == 3)
      for (size_t k = 0; k < 3; ++k) {
        double v = json_number_at(e["color"], k, w + " color");
        VPS_CHECK(v >= 0 && v <= 255, w, ": color values must be in [0, 255], got ", v);
        c.color[k] = uint8_t(v);
      }
    cats.push_back(c);
  }
  return cats;
}

nlohmann::json read_json(const std::string& path) {
  std::vector<uint8_t> b = read_file_bytes(path);
  try {
    return nlohmann::json::parse(b.begin(), b.end());
  } catch (const nlohmann::json::exception& e) {
    VPS_FAIL("invalid JSON in '", path, "': ", e.what());
  }
}

void write_json(const std::string& path, const nlohmann::json& j, int indent) {
  write_file_atomic(path, j.dump(indent) + "\n");
}

const nlohmann::json& json_at(const nlohmann::json& j, const char* key, const std::string& where) {
  VPS_CHECK(j.is_object() && j.contains(key), where, ": missing key '", key, "'");
  return j[key];
}

int64_t json_int(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = json_at(j, key, where);
  if (v.is_number_unsigned()) {
    VPS_CHECK(v.get<uint64_t>() <= uint64_t(INT64_MAX), where, ": key '", key, "' is too large: ", v.dump());
    return v.get<int64_t>();
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();  // integral floats such as 3.0 are accepted; the range test comes first
    if (d > -9.2e18 && d < 9.2e18 && double(int64_t(d)) == d) return int64_t(d);
  }
  VPS_FAIL(where, ": key '", key, "' must be an integer, got ", v.dump());
}

int64_t json_int(const nlohmann::json& j, const char* key, const std::string& where, int64_t lo, int64_t hi) {
  int64_t v = json_int(j, key, where);
  VPS_CHECK(v >= lo && v <= hi, where, ": key '", key, "' must be in [", lo, ", ", hi, "], got ", v);
  return v;
}

double json_number(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = json_at(j, key, where);
  VPS_CHECK(v.is_number(), where, ": key '", key, "' must be a number, got ", v.dump());
  return v.get<double>();
}

double json_number_at(const nlohmann::json& arr, size_t i, const std::string& where) {
  VPS_CHECK(arr.is_array() && i < arr.size() && arr[i].is_number(), where, ": element ", i,
            " must be a number, got ", arr.is_array() && i < arr.size() ? arr[i].dump() : std::string("nothing"));
  return arr[i].get<double>();
}

std::string json_str(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = json_at(j, key, where);
  VPS_CHECK(v.is_string(), where, ": key '", key, "' must be a string, got ", v.dump());
  return v.get<std::string>();
}

}  // namespace vps::data

namespace vps::data {
std::string cityscapes_label_name(const std::string& image_file) {
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    size_t p = s.find(from);
    if (p != std::string::npos) s.replace(p, from.size(), to);
    return s;
  };
  return replace(replace(image_file, "_newImg8bit.png", "_final_mask.png"), "_leftImg8bit.png", "_gtFine_color.png");
}
}  // namespace vps::data
