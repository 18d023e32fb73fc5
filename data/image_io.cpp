#include "data/image_io.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <utility>

#include <jpeglib.h>
#include <png.h>

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::data {

Image Image::make(int width, int height, int channels, int bit_depth) {
  VPS_CHECK(width > 0 && height > 0 && channels >= 1 && channels <= 4 && (bit_depth == 8 || bit_depth == 16),
            "Image::make: bad geometry ", width, "x", height, "x", channels, " depth ", bit_depth);
  Image im;
  im.width = width;
  im.height = height;
  im.channels = channels;
  im.bit_depth = bit_depth;
  size_t n = im.pixels() * size_t(channels);
  if (bit_depth == 8) im.data8.assign(n, 0);
  else im.data16.assign(n, 0);
  return im;
}

void check_image_size(int64_t width, int64_t height, const ImageLimits& lim, const std::string& name) {
  VPS_CHECK(width > 0 && height > 0, "'", name, "': empty image (", width, "x", height, ")");
  VPS_CHECK(width * height <= lim.max_pixels, "'", name, "' declares ", width, "x", height, " pixels, more than the limit of ",
            lim.max_pixels, " pixels", lim.limit_why.empty() ? "" : " (" + lim.limit_why + ")");
  if (lim.expect_width > 0)
    VPS_CHECK(width == lim.expect_width && height == lim.expect_height, "'", name, "' is ", width, "x", height, " but ",
              lim.expect_what.empty() ? std::string("the caller") : lim.expect_what, " says ", lim.expect_width, "x",
              lim.expect_height);
}

namespace {

// libpng reports errors through longjmp; the message is kept here and turned into a vps::Error.
struct PngState {
  const uint8_t* bytes = nullptr;
  size_t size = 0, pos = 0;
  std::vector<uint8_t>* out = nullptr;
  Image img;                    // kept here (address escapes) so longjmp cannot clobber it
  std::vector<png_bytep> rows;
  char msg[256] = {0};
};

void png_err(png_structp png, png_const_charp m) {
  auto* st = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(st->msg, sizeof st->msg, "%s", m);
  png_longjmp(png, 1);
}
void png_warn(png_structp, png_const_charp) {}

void png_read_mem(png_structp png, png_bytep dst, png_size_t n) {
  auto* st = static_cast<PngState*>(png_get_io_ptr(png));
  if (st->pos + n > st->size) png_error(png, "file is truncated");
  std::memcpy(dst, st->bytes + st->pos, n);
  st->pos += n;
}

void png_write_mem(png_structp png, png_bytep src, png_size_t n) {
  auto* st = static_cast<PngState*>(png_get_io_ptr(png));
  st->out->insert(st->out->end(), src, src + n);
}
void png_flush_mem(png_structp) {}

}  // namespace

Image decode_png(const uint8_t* bytes, size_t size, const std::string& name, const ImageLimits& lim) {
  VPS_CHECK(size >= 8 && png_sig_cmp(bytes, 0, 8) == 0, "'", name, "' is not a PNG file");
  PngState st;
  st.bytes = bytes;
  st.size = size;
  Image& img = st.img;
  std::vector<png_bytep>& rows = st.rows;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, png_err, png_warn);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  VPS_CHECK(png && info, "libpng: out of memory reading '", name, "'");
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    VPS_FAIL("corrupt PNG '", name, "': ", st.msg);
  }
  png_set_read_fn(png, &st, png_read_mem);
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  int depth = png_get_bit_depth(png, info), ctype = png_get_color_type(png, info);
  // Before any allocation of the image's size; errors thrown here leave the libpng structs behind
  // the setjmp, so they are checked into a message first.
  std::string size_error;
  try {
    check_image_size(int64_t(w), int64_t(h), lim, name);
    double raw = (double(png_get_rowbytes(png, info)) + 1) * double(h), kMaxDeflate = 1032;
    VPS_CHECK(raw <= kMaxDeflate * double(size) + 4096, "'", name, "' declares ", w, "x", h, " pixels (", raw,
              " bytes) but holds only ", size, " bytes: too few to encode them");
  } catch (const Error& e) {
    size_error = e.what();
  }
  if (!size_error.empty()) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(size_error);
  }
  if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  bool keep16 = depth == 16 && ctype == PNG_COLOR_TYPE_GRAY;
  if (depth == 16 && !keep16) png_set_strip_16(png);
  if (keep16) png_set_swap(png);  // PNG is big-endian; we store host (little-endian) uint16
  png_read_update_info(png, info);
  int ch = png_get_channels(png, info);
  if (w == 0 || h == 0 || w > 65535 || h > 65535) png_error(png, "unsupported image size");
  img = Image::make(int(w), int(h), ch, keep16 ? 16 : 8);
  rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y)
    rows[y] = keep16 ? reinterpret_cast<png_bytep>(&img.data16[size_t(y) * w * ch]) : &img.data8[size_t(y) * w * ch];
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return std::move(img);
}

namespace {
// A decoder's std::bad_alloc becomes an error that names the file.
template <class F>
Image named_oom(const std::string& path, F&& decode) {
  try {
    return decode();
  } catch (const std::bad_alloc&) {
    VPS_FAIL("out of memory decoding '", path, "'");
  }
}
}  // namespace

Image read_png(const std::string& path, const ImageLimits& lim) {
  std::vector<uint8_t> b = read_file_bytes(path);
  return named_oom(path, [&] { return decode_png(b.data(), b.size(), path, lim); });
}

std::vector<uint8_t> encode_png(const Image& img, int level) {
  VPS_CHECK(img.width > 0 && img.height > 0, "encode_png: empty image");
  VPS_CHECK((img.bit_depth == 8 && img.channels >= 1 && img.channels <= 4 && img.channels != 2) ||
                (img.bit_depth == 16 && img.channels == 1),
            "encode_png: unsupported format ", img.channels, " channels at ", img.bit_depth, " bits");
  size_t n = img.pixels() * size_t(img.channels);
  VPS_CHECK(img.bit_depth == 8 ? img.data8.size() == n : img.data16.size() == n, "encode_png: data size mismatch");
  std::vector<uint8_t> out;
  std::vector<uint8_t> be;  // big-endian copy of 16-bit data
  if (img.bit_depth == 16) {
    be.resize(n * 2);
    for (size_t i = 0; i < n; ++i) {
      be[2 * i] = uint8_t(img.data16[i] >> 8);
      be[2 * i + 1] = uint8_t(img.data16[i] & 0xff);
    }
  }
  PngState st;
  st.out = &out;
  st.rows.resize(img.height);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, png_err, png_warn);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  VPS_CHECK(png && info, "libpng: out of memory");
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    VPS_FAIL("PNG encoding failed: ", st.msg);
  }
  png_set_write_fn(png, &st, png_write_mem, png_flush_mem);
  static const int ctypes[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                               PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, png_uint_32(img.width), png_uint_32(img.height), img.bit_depth, ctypes[img.channels],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, level);
  if (level <= 1) png_set_filter(png, 0, PNG_FILTER_SUB);
  png_write_info(png, info);
  size_t stride = size_t(img.width) * img.channels * (img.bit_depth / 8);
  const uint8_t* base = img.bit_depth == 16 ? be.data() : img.data8.data();
  for (int y = 0; y < img.height; ++y) st.rows[y] = const_cast<png_bytep>(base + stride * y);
  png_write_image(png, st.rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void write_png(const std::string& path, const Image& img, int level) {
  std::vector<uint8_t> b;
  try {
    b = encode_png(img, level);
  } catch (const Error& e) {
    VPS_FAIL("cannot write '", path, "': ", e.what());
  }
  write_file_atomic(path, b.data(), b.size());
}

namespace {
struct JpegErr {
  jpeg_error_mgr mgr;
  jmp_buf jmp;
  char msg[JMSG_LENGTH_MAX];
  Image img;  // kept here (address escapes) so longjmp cannot clobber it
};
void jpeg_exit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->msg);
  longjmp(e->jmp, 1);
}
void jpeg_silent(j_common_ptr, int) {}
}  // namespace

Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name, const ImageLimits& lim) {
  VPS_CHECK(size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8, "'", name, "' is not a JPEG file");
  jpeg_decompress_struct cinfo;
  JpegErr err;
  Image& img = err.img;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_exit;
  err.mgr.emit_message = jpeg_silent;
  if (setjmp(err.jmp)) {
    jpeg_destroy_decompress(&cinfo);
    VPS_FAIL("corrupt JPEG '", name, "': ", err.msg);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, const_cast<unsigned char*>(bytes), static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  std::string size_error;
  try {
    check_image_size(int64_t(cinfo.image_width), int64_t(cinfo.image_height), lim, name);
  } catch (const Error& e) {
    size_error = e.what();
  }
  if (!size_error.empty()) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(size_error);
  }
  if (cinfo.jpeg_color_space != JCS_GRAYSCALE) cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  img = Image::make(int(cinfo.output_width), int(cinfo.output_height), cinfo.output_components, 8);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = &img.data8[size_t(cinfo.output_scanline) * img.width * img.channels];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  // libjpeg only warns on premature end of data; treat that as truncation.
  bool truncated = err.mgr.num_warnings > 0;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  VPS_CHECK(!truncated, "corrupt JPEG '", name, "': truncated or damaged data");
  return std::move(img);
}

Image read_jpeg(const std::string& path, const ImageLimits& lim) {
  std::vector<uint8_t> b = read_file_bytes(path);
  return named_oom(path, [&] { return decode_jpeg(b.data(), b.size(), path, lim); });
}

Image read_image(const std::string& path, const ImageLimits& lim) {
  std::vector<uint8_t> b = read_file_bytes(path);
  if (b.size() >= 8 && png_sig_cmp(b.data(), 0, 8) == 0)
    return named_oom(path, [&] { return decode_png(b.data(), b.size(), path, lim); });
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8)
    return named_oom(path, [&] { return decode_jpeg(b.data(), b.size(), path, lim); });
  VPS_FAIL("'", path, "' is neither a PNG nor a JPEG file");
}

}  // namespace vps::data
