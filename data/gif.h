// Minimal animated GIF writer: fixed 256-colour palette (6x7x6 colour cube + 4 greys), LZW coding,
// NETSCAPE loop extension. Enough for previews of panoptic videos.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_io.h"

namespace vps::data {

// Palette index of an RGB colour (nearest cube entry).
uint8_t gif_palette_index(uint8_t r, uint8_t g, uint8_t b);
// Encodes 8-bit RGB frames of equal size; delay in 1/100 s; loops forever.
std::vector<uint8_t> encode_gif(const std::vector<Image>& frames, int delay_cs);
void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_cs);
// LZW-compresses palette indices with the given minimum code size (GIF flavour); exposed for tests.
std::vector<uint8_t> gif_lzw(const std::vector<uint8_t>& indices, int min_code_size);

}  // namespace vps::data
