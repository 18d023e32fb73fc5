#include "data/rle.h"

#include "tensor/check.h"

namespace vps::data {

std::vector<uint32_t> rle_encode(const uint8_t* mask, int height, int width) {
  std::vector<uint32_t> counts;
  uint8_t cur = 0;
  uint32_t run = 0;
  for (int x = 0; x < width; ++x)
    for (int y = 0; y < height; ++y) {
      uint8_t v = mask[size_t(y) * width + x] ? 1 : 0;
      if (v != cur) {
        counts.push_back(run);
        run = 0;
        cur = v;
      }
      ++run;
    }
  counts.push_back(run);
  return counts;
}

std::string rle_to_string(const std::vector<uint32_t>& counts) {
  std::string s;
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= int64_t(counts[i - 2]);
    bool more = true;
    while (more) {
      int c = int(x & 0x1f);
      x >>= 5;  // arithmetic shift keeps the sign, as in the reference
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(char(c + 48));
    }
  }
  return s;
}

std::vector<uint32_t> rle_from_string(const std::string& s, const std::string& where) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      VPS_CHECK(p < s.size(), where, ": truncated RLE string");
      int c = int(s[p]) - 48;
      VPS_CHECK(c >= 0 && c < 64 && k < 12, where, ": invalid RLE string");
      x |= int64_t(c & 0x1f) << (5 * k);
      more = c & 0x20;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t(1) << (5 * k));
    }
    if (counts.size() > 2) x += counts[counts.size() - 2];
    VPS_CHECK(x >= 0 && x <= int64_t(UINT32_MAX), where, ": invalid RLE run length ", x);
    counts.push_back(uint32_t(x));
  }
  return counts;
}

std::vector<uint8_t> rle_decode(const nlohmann::json& segm, int height, int width, const std::string& where) {
  VPS_CHECK(segm.is_object() && segm.contains("counts"), where, ": segmentation is not an RLE object");
  if (segm.contains("size")) {
    const auto& sz = segm["size"];
    VPS_CHECK(sz.is_array() && sz.size() == 2 && sz[0] == height && sz[1] == width, where, ": RLE size ",
              sz.dump(), " does not match the image ", height, "x", width);
  }
  std::vector<uint32_t> counts;
  const auto& c = segm["counts"];
  if (c.is_string()) counts = rle_from_string(c.get<std::string>(), where);
  else if (c.is_array())
    for (const auto& v : c) {
      VPS_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= int64_t(UINT32_MAX), where,
                ": invalid RLE run length ", v.dump());
      counts.push_back(uint32_t(v.get<int64_t>()));
    }
  else VPS_FAIL(where, ": RLE counts must be a string or a list");
  std::vector<uint8_t> mask(size_t(height) * width, 0);
  size_t n = mask.size(), pos = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    VPS_CHECK(pos + counts[i] <= n, where, ": RLE runs exceed the image size ", height, "x", width);
    if (i % 2 == 1)
      for (size_t k = pos; k < pos + counts[i]; ++k) mask[(k % height) * width + k / height] = 1;
    pos += counts[i];
  }
  VPS_CHECK(pos == n, where, ": RLE covers ", pos, " pixels, the image has ", n);
  return mask;
}

}  // namespace vps::data
