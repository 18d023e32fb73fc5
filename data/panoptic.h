// Panoptic conventions shared by the reader, the synthetic generator, the evaluators and vis:
// COCO RGB id encoding (id = R + 256*G + 256^2*B, 0 = void) and the Cityscapes-VPS category table.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image_io.h"

namespace vps::data {

constexpr uint32_t kVoidId = 0;
constexpr uint8_t kIgnoreLabel = 255;

inline uint32_t rgb2id(uint8_t r, uint8_t g, uint8_t b) { return uint32_t(r) + 256u * g + 65536u * b; }
inline std::array<uint8_t, 3> id2rgb(uint32_t id) {
  return {uint8_t(id & 0xff), uint8_t((id >> 8) & 0xff), uint8_t((id >> 16) & 0xff)};
}
// RGB (or RGBA, alpha ignored) 8-bit image -> per-pixel segment ids (H*W). `name` is used in errors.
std::vector<uint32_t> image_to_ids(const Image& img, const std::string& name);
// Segment ids (H*W, each < 2^24) -> RGB 8-bit image.
Image ids_to_image(const std::vector<uint32_t>& ids, int width, int height);

struct Category {
  int id = 0;
  std::string name;
  bool isthing = false;
  std::array<uint8_t, 3> color{};
};

// The 19 Cityscapes-VPS classes (train ids 0..18; 0..10 stuff, 11..18 things) with their colours.
const std::vector<Category>& cityscapes_categories();
// JSON list [{id, name, supercategory, isthing, color}] as in panoptic_gt_*_city_vps.json.
nlohmann::json categories_to_json(const std::vector<Category>& cats);
// Parses a "categories" list; `where` (file name) is used in errors.
std::vector<Category> categories_from_json(const nlohmann::json& j, const std::string& where);

// Reads and parses a JSON file; errors name the file (and the parser's position).
nlohmann::json read_json(const std::string& path);
// Serialises compactly (or indented when indent >= 0) and writes atomically.
void write_json(const std::string& path, const nlohmann::json& j, int indent = -1);
// j[key] with an error naming `where` and the key when it is missing or of the wrong type.
const nlohmann::json& json_at(const nlohmann::json& j, const char* key, const std::string& where);
int64_t json_int(const nlohmann::json& j, const char* key, const std::string& where);
// The same, refused unless in [lo, hi] (the message gives the range).
int64_t json_int(const nlohmann::json& j, const char* key, const std::string& where, int64_t lo, int64_t hi);
double json_number(const nlohmann::json& j, const char* key, const std::string& where);
// arr[i] as a number; `where` names the array.
double json_number_at(const nlohmann::json& arr, size_t i, const std::string& where);
std::string json_str(const nlohmann::json& j, const char* key, const std::string& where);

}  // namespace vps::data

namespace vps::data {
// Cityscapes-VPS label file name for an image file name: `_newImg8bit.png` -> `_final_mask.png`,
// `_leftImg8bit.png` -> `_gtFine_color.png` (as the official evaluator and loader do).
std::string cityscapes_label_name(const std::string& image_file);
}  // namespace vps::data
