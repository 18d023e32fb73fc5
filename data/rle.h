// COCO run-length encoding of binary masks (column-major), as in instances_*_city_vps_rle.json:
// uncompressed {"size":[h,w],"counts":[...]} and compressed {"counts":"<string>"} forms.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vps::data {

// mask: H*W row-major, nonzero = inside. Returns run lengths over the column-major order, starting with zeros.
std::vector<uint32_t> rle_encode(const uint8_t* mask, int height, int width);
// COCO's compact string form of run lengths (pycocotools rleToString).
std::string rle_to_string(const std::vector<uint32_t>& counts);
std::vector<uint32_t> rle_from_string(const std::string& s, const std::string& where);
// Decodes a COCO RLE JSON object into an H*W row-major 0/1 mask; errors name `where`.
std::vector<uint8_t> rle_decode(const nlohmann::json& segm, int height, int width, const std::string& where);

}  // namespace vps::data
