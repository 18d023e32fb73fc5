// Image files: PNG read/write (8-bit gray/RGB/RGBA, 16-bit gray) with libpng, JPEG read with libjpeg.
// Own plain image type; no dependency on tensor/.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vps::data {

// Interleaved pixels, row-major: data[(y*width + x)*channels + c]. bit_depth 8 uses data8, 16 uses data16.
struct Image {
  int width = 0, height = 0, channels = 0, bit_depth = 8;
  std::vector<uint8_t> data8;
  std::vector<uint16_t> data16;

  static Image make(int width, int height, int channels, int bit_depth = 8);  // zero-filled
  size_t pixels() const { return size_t(width) * size_t(height); }
  uint8_t* px(int x, int y) { return &data8[(size_t(y) * width + x) * channels]; }
  const uint8_t* px(int x, int y) const { return &data8[(size_t(y) * width + x) * channels]; }
};

// What a decoder accepts before it allocates: a file's header alone may declare 65535x65535 pixels.
// The declared size is checked against max_pixels, against the size the caller expects (a dataset
// JSON's width/height) when given, and, for PNG, against the data present (deflate expands at most
// 1032:1). Errors name the file and both sizes.
struct ImageLimits {
  int64_t max_pixels = int64_t(1) << 27;  // 134M pixels, e.g. 16384 x 8192
  int expect_width = 0, expect_height = 0;  // > 0: the image must have exactly this size
  std::string expect_what;                  // where the expected size comes from, for the message
  std::string limit_why;                    // why max_pixels is what it is, for the message
};
// Throws naming `name` when width x height breaks `lim` (shared by the decoders and callers that
// know a size before reading, e.g. from a JSON).
void check_image_size(int64_t width, int64_t height, const ImageLimits& lim, const std::string& name);

// Decodes a PNG (palette and low bit depths expanded; 16-bit kept only for gray). `name` is used in errors.
Image decode_png(const uint8_t* bytes, size_t size, const std::string& name, const ImageLimits& lim = {});
Image read_png(const std::string& path, const ImageLimits& lim = {});
// Encodes 8-bit gray/RGB/RGBA or 16-bit gray. level: zlib level 0..9. Output is deterministic.
std::vector<uint8_t> encode_png(const Image& img, int level = 6);
// Writes atomically (path.tmp.<pid>, rename).
void write_png(const std::string& path, const Image& img, int level = 6);
// Decodes a baseline/progressive JPEG into 8-bit gray or RGB.
Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name, const ImageLimits& lim = {});
Image read_jpeg(const std::string& path, const ImageLimits& lim = {});
// Chooses the decoder by content (PNG or JPEG signature); errors name the file.
Image read_image(const std::string& path, const ImageLimits& lim = {});

}  // namespace vps::data
