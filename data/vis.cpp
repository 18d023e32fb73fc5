#include "data/vis.h"

#include <algorithm>

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::data {

std::array<uint8_t, 3> segment_color(uint32_t id, int category_id, const std::vector<Category>& cats) {
  for (const auto& c : cats) {
    if (c.id != category_id) continue;
    if (!c.isthing) return c.color;
    uint32_t h = id * 2654435761u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    // Bright, saturated colours: each channel in 48..239.
    return {uint8_t(48 + (h & 0xff) % 192), uint8_t(48 + ((h >> 8) & 0xff) % 192), uint8_t(48 + ((h >> 16) & 0xff) % 192)};
  }
  return {128, 128, 128};
}

Image colorize(const std::vector<uint32_t>& ids, int width, int height,
               const std::unordered_map<uint32_t, int>& category_of, const std::vector<Category>& cats) {
  VPS_CHECK(ids.size() == size_t(width) * height, "colorize: ", ids.size(), " ids for ", width, "x", height);
  Image out = Image::make(width, height, 3);
  std::unordered_map<uint32_t, std::array<uint8_t, 3>> cache;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = category_of.find(ids[i]);
    if (ids[i] == kVoidId || it == category_of.end()) continue;
    auto c = cache.find(ids[i]);
    if (c == cache.end()) c = cache.emplace(ids[i], segment_color(ids[i], it->second, cats)).first;
    std::copy(c->second.begin(), c->second.end(), &out.data8[3 * i]);
  }
  return out;
}

Image overlay(const Image& rgb, const Image& color, const std::vector<uint32_t>& ids, int alpha_pct) {
  VPS_CHECK(rgb.width == color.width && rgb.height == color.height && rgb.bit_depth == 8,
            "overlay: image ", rgb.width, "x", rgb.height, " and colours ", color.width, "x", color.height, " differ");
  Image out = Image::make(rgb.width, rgb.height, 3);
  int W = rgb.width, H = rgb.height;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      size_t i = size_t(y) * W + x;
      const uint8_t* s = rgb.px(x, y);
      bool edge = (x + 1 < W && ids[i] != ids[i + 1]) || (y + 1 < H && ids[i] != ids[i + W]);
      for (int c = 0; c < 3; ++c) {
        int base = rgb.channels >= 3 ? s[c] : s[0];
        out.data8[3 * i + c] =
            edge ? 255 : uint8_t((base * (100 - alpha_pct) + color.data8[3 * i + c] * alpha_pct) / 100);
      }
    }
  return out;
}

Image side_by_side(const Image& a, const Image& b, int gap) {
  VPS_CHECK(a.height == b.height && a.channels == 3 && b.channels == 3, "side_by_side: heights ", a.height, " and ",
            b.height, " differ or images are not RGB");
  Image out = Image::make(a.width + gap + b.width, a.height, 3);
  std::fill(out.data8.begin(), out.data8.end(), 255);
  for (int y = 0; y < a.height; ++y) {
    std::copy(a.px(0, y), a.px(0, y) + 3 * a.width, out.px(0, y));
    std::copy(b.px(0, y), b.px(0, y) + 3 * b.width, out.px(a.width + gap, y));
  }
  return out;
}

Image resize_nearest(const Image& im, int width, int height) {
  Image out = Image::make(width, height, im.channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const uint8_t* s = im.px(int(int64_t(x) * im.width / width), int(int64_t(y) * im.height / height));
      std::copy(s, s + im.channels, out.px(x, y));
    }
  return out;
}

Image contact_sheet(const std::vector<Image>& frames, int cols, int thumb_w) {
  VPS_CHECK(!frames.empty() && cols > 0 && thumb_w > 0, "contact_sheet: nothing to lay out");
  int th = std::max(1, int(int64_t(thumb_w) * frames[0].height / frames[0].width)), gap = 2;
  int rows = int((frames.size() + size_t(cols) - 1) / size_t(cols));
  int n_cols = std::min<int>(cols, int(frames.size()));
  Image out = Image::make(n_cols * (thumb_w + gap) + gap, rows * (th + gap) + gap, 3);
  std::fill(out.data8.begin(), out.data8.end(), 255);
  for (size_t k = 0; k < frames.size(); ++k) {
    Image t = resize_nearest(frames[k], thumb_w, th);
    int ox = gap + int(k % size_t(cols)) * (thumb_w + gap), oy = gap + int(k / size_t(cols)) * (th + gap);
    for (int y = 0; y < th; ++y) std::copy(t.px(0, y), t.px(0, y) + 3 * thumb_w, out.px(ox, oy + y));
  }
  return out;
}

}  // namespace vps::data
