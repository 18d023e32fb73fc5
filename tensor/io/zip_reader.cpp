#include "tensor/io/zip_reader.h"

#include <zlib.h>

#include <cstring>

namespace vps {

namespace {
constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr uint32_t k32 = 0xffffffffu;

uint32_t crc_of(const uint8_t* p, uint64_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    uInt k = uInt(n > (1u << 30) ? (1u << 30) : n);
    c = crc32(c, p, k);
    p += k;
    n -= k;
  }
  return uint32_t(c);
}

void inflate_raw(const uint8_t* src, uint64_t n, std::vector<uint8_t>* out, const std::string& where) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  VPS_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, where, ": zlib inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(src);
  Bytef dummy = 0;  // zlib refuses a null output pointer, which an empty vector has
  zs.next_out = out->empty() ? &dummy : out->data();
  uint64_t in_left = n, out_left = out->size();
  int rc = Z_OK;
  while (rc == Z_OK) {
    uInt in_now = uInt(in_left > (1u << 30) ? (1u << 30) : in_left);
    uInt out_now = uInt(out_left > (1u << 30) ? (1u << 30) : out_left);
    zs.avail_in = in_now;
    zs.avail_out = out_now;
    rc = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_now - zs.avail_in;
    out_left -= out_now - zs.avail_out;
    if (rc == Z_BUF_ERROR && (in_left == 0 || out_left == 0)) break;
  }
  inflateEnd(&zs);
  VPS_CHECK(rc == Z_STREAM_END && out_left == 0, where, ": corrupt deflate data (zlib code ", rc, ", ",
            out->size() - out_left, " of ", out->size(), " bytes inflated)");
}
}  // namespace

bool ZipReader::looks_like_zip(const uint8_t* data, size_t size) {
  return size >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4;
}

ZipReader::ZipReader(const uint8_t* data, size_t size, std::string what)
    : data_(data), size_(size), what_(std::move(what)) {
  size_t eocd = find_eocd();
  ByteReader r(data_, size_, what_ + " (zip end record)");
  r.seek(eocd + 4);
  uint16_t disk = r.u16(), cd_disk = r.u16(), n_disk = r.u16();
  uint64_t count = r.u16(), cd_size = r.u32(), cd_offset = r.u32();
  if (count == 0xffff || cd_size == k32 || cd_offset == k32) {
    VPS_CHECK(eocd >= 20, what_, ": ZIP64 end-of-central-directory locator missing");
    r.seek(eocd - 20);
    VPS_CHECK(r.u32() == kZip64LocatorSig, what_, ": ZIP64 end-of-central-directory locator missing");
    r.u32();
    uint64_t z64 = r.u64();
    VPS_CHECK(z64 <= size_, what_, ": ZIP64 end record offset ", z64, " beyond the file");
    r.seek(size_t(z64));
    VPS_CHECK(r.u32() == kZip64EocdSig, what_, ": bad ZIP64 end-of-central-directory signature");
    r.u64();
    r.u16();
    r.u16();
    disk = uint16_t(r.u32() != 0);
    cd_disk = uint16_t(r.u32() != 0);
    n_disk = 0;
    r.u64();
    count = r.u64();
    cd_size = r.u64();
    cd_offset = r.u64();
  }
  (void)n_disk;
  VPS_CHECK(disk == 0 && cd_disk == 0, what_, ": multi-disk zip archives are not supported");
  read_central_directory(cd_offset, cd_size, count);
}

size_t ZipReader::find_eocd() const {
  VPS_CHECK(size_ >= 22, what_, ": not a zip archive or truncated (", size_, " bytes)");
  size_t lowest = size_ > 22 + 65535 ? size_ - 22 - 65535 : 0;
  for (size_t p = size_ - 22 + 1; p-- > lowest;) {
    uint32_t sig;
    std::memcpy(&sig, data_ + p, 4);
    if (sig != kEocdSig) continue;
    uint16_t comment;
    std::memcpy(&comment, data_ + p + 20, 2);
    if (p + 22 + comment == size_) return p;
  }
  VPS_FAIL(what_, ": zip end-of-central-directory record not found (truncated or not a zip archive)");
}

void ZipReader::read_central_directory(uint64_t offset, uint64_t size, uint64_t count) {
  VPS_CHECK(offset <= size_ && size <= size_ - offset, what_, ": central directory [", offset, ", +", size,
            ") lies outside the file (", size_, " bytes); truncated?");
  VPS_CHECK(count <= size / 46, what_, ": central directory claims ", count, " entries in ", size, " bytes");
  ByteReader r(data_ + offset, size_t(size), what_ + " (central directory)");
  entries_.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    VPS_CHECK(r.u32() == kCentralSig, what_, ": bad central directory entry signature (entry ", i, ")");
    r.take(4);  // versions
    uint16_t flags = r.u16();
    Entry e;
    e.method = r.u16();
    r.take(4);  // time, date
    e.crc = r.u32();
    e.compressed_size = r.u32();
    e.size = r.u32();
    uint16_t name_len = r.u16(), extra_len = r.u16(), comment_len = r.u16();
    r.take(8);  // disk, attributes
    e.local_offset = r.u32();
    e.name.assign(reinterpret_cast<const char*>(r.take(name_len)), name_len);
    ByteReader extra(r.take(extra_len), extra_len, what_ + ": extra field of '" + e.name + "'");
    while (extra.remaining() >= 4) {
      uint16_t id = extra.u16(), len = extra.u16();
      ByteReader field(extra.take(len), len, extra.what());
      if (id != 0x0001) continue;  // ZIP64: only the fields whose 32-bit slot is saturated, in this order
      if (e.size == k32) e.size = field.u64();
      if (e.compressed_size == k32) e.compressed_size = field.u64();
      if (e.local_offset == k32) e.local_offset = field.u64();
    }
    r.take(comment_len);
    VPS_CHECK(!(flags & 1), what_, ": entry '", e.name, "' is encrypted");
    entries_.push_back(std::move(e));
  }
}

const ZipReader::Entry* ZipReader::find(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

ByteSpan ZipReader::read(const Entry& e, std::vector<uint8_t>* scratch) const {
  std::string where = what_ + ": entry '" + e.name + "'";
  VPS_CHECK(e.local_offset <= size_, where, ": local header offset ", e.local_offset, " beyond the file");
  ByteReader r(data_, size_, where);
  r.seek(size_t(e.local_offset));
  VPS_CHECK(r.u32() == kLocalSig, where, ": bad local header signature");
  r.take(22);
  uint16_t name_len = r.u16(), extra_len = r.u16();
  r.take(size_t(name_len) + extra_len);
  VPS_CHECK(e.compressed_size <= r.remaining(), where, ": data runs past the end of the file (needs ",
            e.compressed_size, " bytes, ", r.remaining(), " left); truncated?");
  const uint8_t* p = r.take(size_t(e.compressed_size));
  ByteSpan out{p, size_t(e.size)};
  if (e.method == 0) {
    VPS_CHECK(e.size == e.compressed_size, where, ": stored entry with size ", e.size, " != compressed size ",
              e.compressed_size);
  } else if (e.method == 8) {
    // deflate cannot expand more than ~1032:1; refuse sizes that promise more (zip bombs, corrupt sizes)
    VPS_CHECK(e.size / 1032 <= e.compressed_size + 1, where, ": implausible inflated size ", e.size);
    scratch->assign(size_t(e.size), 0);
    inflate_raw(p, e.compressed_size, scratch, where);
    out.data = scratch->data();
  } else {
    VPS_FAIL(where, ": unsupported compression method ", e.method, " (only stored and deflate)");
  }
  VPS_CHECK(crc_of(static_cast<const uint8_t*>(out.data), e.size) == e.crc, where, ": CRC-32 mismatch (corrupt file)");
  return out;
}

}  // namespace vps
