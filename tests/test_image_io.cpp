#include <cstdio>
#include <cstring>
#include <zlib.h>

#include <gtest/gtest.h>
#include <jpeglib.h>

#include "data/fs_util.h"
#include "data/image_io.h"
#include "data/panoptic.h"
#include "tensor/check.h"
#include "tests/error_of.h"
#include "tests/temp_dir.h"

using namespace vps::data;

namespace {
Image pattern(int w, int h, int ch, int depth) {
  Image im = Image::make(w, h, ch, depth);
  for (size_t i = 0; i < (depth == 8 ? im.data8.size() : im.data16.size()); ++i) {
    if (depth == 8) im.data8[i] = uint8_t(i * 37 + 11);
    else im.data16[i] = uint16_t(i * 4099 + 7);
  }
  return im;
}

std::string expect_error(const std::function<void()>& f) {
  std::string m = vps::testing::error_of(f);
  if (!m.empty()) return m;
  ADD_FAILURE() << "expected vps::Error";
  return "";
}
}  // namespace

TEST(ImageIo, PngRoundTripAllFormats) {
  vps::test::TempDir dir;
  for (auto [ch, depth] : {std::pair{1, 8}, {3, 8}, {4, 8}, {1, 16}}) {
    Image im = pattern(17, 9, ch, depth);
    std::string p = dir / ("x" + std::to_string(ch) + "_" + std::to_string(depth) + ".png");
    write_png(p, im);
    Image back = read_png(p);
    EXPECT_EQ(back.width, 17);
    EXPECT_EQ(back.height, 9);
    EXPECT_EQ(back.channels, ch);
    EXPECT_EQ(back.bit_depth, depth);
    EXPECT_EQ(back.data8, im.data8);
    EXPECT_EQ(back.data16, im.data16);
    EXPECT_FALSE(path_exists(p + ".tmp." + std::to_string(::getpid())));
  }
}

TEST(ImageIo, CorruptAndTruncatedFilesNameTheFile) {
  vps::test::TempDir dir;
  std::vector<uint8_t> png = encode_png(pattern(64, 64, 3, 8));
  std::string trunc = dir / "trunc.png";
  write_file_atomic(trunc, png.data(), png.size() / 2);
  EXPECT_NE(expect_error([&] { read_png(trunc); }).find("trunc.png"), std::string::npos);
  std::string junk = dir / "junk.png";
  write_file_atomic(junk, std::string("definitely not an image"));
  EXPECT_NE(expect_error([&] { read_image(junk); }).find("junk.png"), std::string::npos);
  std::vector<uint8_t> bad = png;
  for (size_t i = 60; i < 90; ++i) bad[i] ^= 0x5a;  // damage the compressed stream
  std::string badp = dir / "bad.png";
  write_file_atomic(badp, bad.data(), bad.size());
  EXPECT_NE(expect_error([&] { read_png(badp); }).find("bad.png"), std::string::npos);
  EXPECT_NE(expect_error([&] { read_png(dir / "missing.png"); }).find("missing.png"), std::string::npos);
}

// A small grey JPEG encoded by libjpeg.
std::vector<uint8_t> encode_test_jpeg(int w, int h) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3, 128);
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = w;
  c.image_height = h;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = &rgb[size_t(c.next_scanline) * w * 3];
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

TEST(ImageIo, JpegDecodeAndTruncation) {
  // Encode a small JPEG with libjpeg, then decode it with ours.
  int w = 32, h = 16;
  std::vector<uint8_t> jpg = encode_test_jpeg(w, h);
  size_t size = jpg.size();
  vps::test::TempDir dir;
  write_file_atomic(dir / "a.jpg", jpg.data(), size);
  Image im = read_image(dir / "a.jpg");
  EXPECT_EQ(im.width, w);
  EXPECT_EQ(im.height, h);
  EXPECT_EQ(im.channels, 3);
  EXPECT_NEAR(im.data8[5], 128, 2);
  write_file_atomic(dir / "t.jpg", jpg.data(), size / 2);
  EXPECT_NE(expect_error([&] { read_jpeg(dir / "t.jpg"); }).find("t.jpg"), std::string::npos);
}

TEST(ImageIo, PanopticIdEncodingBothWays) {
  EXPECT_EQ(rgb2id(1, 2, 3), 1u + 256u * 2 + 65536u * 3);
  auto c = id2rgb(8405120);  // road colour 128,64,128
  EXPECT_EQ(c[0], 128);
  EXPECT_EQ(c[1], 64);
  EXPECT_EQ(c[2], 128);
  std::vector<uint32_t> ids = {0, 1, 256, 65536, 16777215, 8405120};
  Image im = ids_to_image(ids, 3, 2);
  EXPECT_EQ(image_to_ids(im, "x"), ids);
  EXPECT_EQ(cityscapes_label_name("a_newImg8bit.png"), "a_final_mask.png");
  EXPECT_EQ(cityscapes_label_name("a_leftImg8bit.png"), "a_gtFine_color.png");
}

// Headers that declare huge images are refused before anything of their size is allocated, with the
// file and the sizes in the message (a 74-byte PNG declaring 65535x65535 used to allocate 4.4 GB).
namespace {
void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}
std::vector<uint8_t> png_declaring(uint32_t w, uint32_t h) {
  std::vector<uint8_t> png = encode_png(pattern(4, 4, 3, 8));
  // IHDR is the first chunk: 8 signature + 4 length + 4 type, then width, height, ...; CRC after 13 bytes.
  put_be32(&png[16], w);
  put_be32(&png[20], h);
  put_be32(&png[29], uint32_t(crc32(crc32(0, nullptr, 0), &png[12], 17)));
  return png;
}
}  // namespace

TEST(ImageIo, HugeDeclaredSizesAreRefusedBeforeAllocation) {
  std::vector<uint8_t> png = png_declaring(65535, 65535);
  EXPECT_LT(png.size(), 128u);
  std::string m = expect_error([&] { decode_png(png.data(), png.size(), "huge.png"); });
  EXPECT_NE(m.find("huge.png"), std::string::npos) << m;
  EXPECT_NE(m.find("65535x65535"), std::string::npos) << m;
  // Under the pixel limit but far more than the bytes present can encode.
  std::vector<uint8_t> small = png_declaring(8000, 8000);
  m = expect_error([&] { decode_png(small.data(), small.size(), "s.png"); });
  EXPECT_NE(m.find("too few"), std::string::npos) << m;
  // A caller's expected size and its own limit.
  std::vector<uint8_t> ok = encode_png(pattern(6, 4, 3, 8));
  ImageLimits lim;
  lim.expect_width = 6, lim.expect_height = 5, lim.expect_what = "gt.json images[0]";
  m = expect_error([&] { decode_png(ok.data(), ok.size(), "a.png", lim); });
  EXPECT_NE(m.find("a.png' is 6x4 but gt.json images[0] says 6x5"), std::string::npos) << m;
  lim = ImageLimits{};
  lim.max_pixels = 20;
  EXPECT_NE(expect_error([&] { decode_png(ok.data(), ok.size(), "a.png", lim); }).find("limit of 20"), std::string::npos);
  EXPECT_EQ(decode_png(ok.data(), ok.size(), "a.png").width, 6);
  // JPEG: the SOF0 frame header patched to 65500x65500.
  std::vector<uint8_t> jpg = encode_test_jpeg(16, 16);
  bool patched = false;
  for (size_t i = 2; i + 9 < jpg.size() && !patched; ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
      jpg[i + 5] = jpg[i + 7] = 0xFF, jpg[i + 6] = jpg[i + 8] = 0xDC;  // height, width = 65500
      patched = true;
    }
  ASSERT_TRUE(patched);
  m = expect_error([&] { decode_jpeg(jpg.data(), jpg.size(), "huge.jpg"); });
  EXPECT_NE(m.find("huge.jpg' declares 65500x65500"), std::string::npos) << m;
}
