#include "data/gif.h"

#include <unordered_map>

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::data {

namespace {
// 6 levels of red, 7 of green, 6 of blue = 252 colours, then 4 greys.
const int kR = 6, kG = 7, kB = 6;
int level(uint8_t v, int n) { return (int(v) * (n - 1) + 127) / 255; }
uint8_t value(int l, int n) { return uint8_t(l * 255 / (n - 1)); }

struct BitWriter {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  void put(int code, int width) {
    acc |= uint32_t(code) << bits;
    bits += width;
    while (bits >= 8) {
      out.push_back(uint8_t(acc & 0xff));
      acc >>= 8;
      bits -= 8;
    }
  }
  void flush() {
    if (bits > 0) out.push_back(uint8_t(acc & 0xff));
    acc = 0;
    bits = 0;
  }
};
}  // namespace

uint8_t gif_palette_index(uint8_t r, uint8_t g, uint8_t b) {
  return uint8_t((level(r, kR) * kG + level(g, kG)) * kB + level(b, kB));
}

std::vector<uint8_t> gif_lzw(const std::vector<uint8_t>& idx, int min_code_size) {
  const int clear = 1 << min_code_size, eoi = clear + 1;
  BitWriter w;
  int width = min_code_size + 1, next = eoi + 1;
  std::unordered_map<uint32_t, int> dict;  // (prefix code << 8 | byte) -> code
  w.put(clear, width);
  if (idx.empty()) {
    w.put(eoi, width);
    w.flush();
    return w.out;
  }
  int prefix = idx[0];
  for (size_t i = 1; i < idx.size(); ++i) {
    uint32_t key = (uint32_t(prefix) << 8) | idx[i];
    auto it = dict.find(key);
    if (it != dict.end()) {
      prefix = it->second;
      continue;
    }
    w.put(prefix, width);
    if (next < 4096) {
      dict[key] = next++;
      if (next > (1 << width) && width < 12) ++width;
    } else {  // table full: start over
      w.put(clear, width);
      dict.clear();
      width = min_code_size + 1;
      next = eoi + 1;
    }
    prefix = idx[i];
  }
  w.put(prefix, width);
  w.put(eoi, width);
  w.flush();
  return w.out;
}

std::vector<uint8_t> encode_gif(const std::vector<Image>& frames, int delay_cs) {
  VPS_CHECK(!frames.empty(), "encode_gif: no frames");
  int W = frames[0].width, H = frames[0].height;
  VPS_CHECK(W > 0 && H > 0 && W < 65536 && H < 65536, "encode_gif: bad size ", W, "x", H);
  std::vector<uint8_t> g = {'G', 'I', 'F', '8', '9', 'a'};
  auto u16 = [&](int v) {
    g.push_back(uint8_t(v & 0xff));
    g.push_back(uint8_t(v >> 8));
  };
  u16(W);
  u16(H);
  g.insert(g.end(), {0xF7, 0, 0});  // global colour table of 256 entries
  for (int r = 0; r < kR; ++r)
    for (int gg = 0; gg < kG; ++gg)
      for (int b = 0; b < kB; ++b) g.insert(g.end(), {value(r, kR), value(gg, kG), value(b, kB)});
  for (int k = 0; k < 4; ++k) g.insert(g.end(), {uint8_t(51 * (k + 1)), uint8_t(51 * (k + 1)), uint8_t(51 * (k + 1))});
  g.insert(g.end(), {0x21, 0xFF, 0x0B, 'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0', 0x03, 0x01, 0, 0, 0});
  for (const Image& f : frames) {
    VPS_CHECK(f.width == W && f.height == H && f.channels == 3 && f.bit_depth == 8,
              "encode_gif: frames must be 8-bit RGB of one size");
    g.insert(g.end(), {0x21, 0xF9, 0x04, 0x00});
    u16(delay_cs);
    g.insert(g.end(), {0, 0});
    g.push_back(0x2C);
    u16(0);
    u16(0);
    u16(W);
    u16(H);
    g.push_back(0);
    std::vector<uint8_t> idx(f.pixels());
    for (size_t i = 0; i < idx.size(); ++i)
      idx[i] = gif_palette_index(f.data8[3 * i], f.data8[3 * i + 1], f.data8[3 * i + 2]);
    g.push_back(8);
    std::vector<uint8_t> data = gif_lzw(idx, 8);
    for (size_t p = 0; p < data.size(); p += 255) {
      size_t n = std::min<size_t>(255, data.size() - p);
      g.push_back(uint8_t(n));
      g.insert(g.end(), data.begin() + long(p), data.begin() + long(p + n));
    }
    g.push_back(0);
  }
  g.push_back(0x3B);
  return g;
}

void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_cs) {
  std::vector<uint8_t> b = encode_gif(frames, delay_cs);
  write_file_atomic(path, b.data(), b.size());
}

}  // namespace vps::data
