#include "tensor/io/raw_array.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tensor/allocator.h"

namespace vps {

int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    VPS_CHECK(d >= 0, what, ": negative dimension in shape ", shape_str(shape));
    VPS_CHECK(!__builtin_mul_overflow(n, d, &n), what, ": shape ", shape_str(shape), " overflows int64");
  }
  return n;
}

int64_t RawArray::numel() const { return checked_numel(shape, "RawArray"); }

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

RawArray to_f32(const RawArray& a) {
  if (!is_floating(a.dtype) || a.dtype == DType::f32) return a;
  RawArray out;
  out.dtype = DType::f32;
  out.shape = a.shape;
  size_t n = a.data.size() / dtype_size(a.dtype);
  out.data.resize(n * 4);
  float* dst = reinterpret_cast<float*>(out.data.data());
  const uint8_t* src = a.data.data();
  for (size_t i = 0; i < n; ++i) {
    if (a.dtype == DType::f64) {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      dst[i] = float(d);
    } else {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = a.dtype == DType::f16 ? half_to_float(h) : bf16_to_float(h);
    }
  }
  return out;
}

static uint64_t half_of_memory() {
  const uint64_t m = host_memory_bytes();
  return m > 0 ? m / 2 : uint64_t(1) << 32;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // O_NONBLOCK: a FIFO cannot hang the open
  VPS_CHECK(fd >= 0, "cannot open '", path, "': ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    VPS_FAIL("'", path, "' is not a regular file (a device, a pipe or a folder): not reading it");
  }
  const uint64_t limit = max_bytes ? max_bytes : half_of_memory(), size = uint64_t(st.st_size);
  if (size > limit) {
    ::close(fd);
    VPS_FAIL("'", path, "' is ", size, " bytes, more than the ", limit, " bytes a file may take here",
             max_bytes ? "" : " (half of this machine's memory)");
  }
  std::vector<uint8_t> buf(size);
  size_t got = 0;
  std::string err;
  while (got < size) {
    ssize_t k = ::read(fd, buf.data() + got, size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) err = std::strerror(errno);
    if (k <= 0) break;
    got += size_t(k);
  }
  ::close(fd);
  VPS_CHECK(err.empty(), "error reading '", path, "': ", err);
  buf.resize(got);  // a file truncated meanwhile: what was there (the parsers name a short file)
  return buf;
}

std::string dir_of(const std::string& path) {
  size_t s = path.rfind('/');
  return s == std::string::npos ? "." : (s == 0 ? "/" : path.substr(0, s));
}

void write_file_atomic(const std::string& path, const std::vector<ByteSpan>& parts) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  VPS_CHECK(fd >= 0, "cannot create '", tmp, "' (writing '", path, "'): ", std::strerror(errno));
  std::string err;
  for (const ByteSpan& part : parts) {
    const char* p = static_cast<const char*>(part.data);
    size_t left = part.size;
    while (left > 0 && err.empty()) {
      ssize_t w = ::write(fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) err = std::string("write failed: ") + std::strerror(errno);
      else p += w, left -= size_t(w);
    }
  }
  if (err.empty() && ::fsync(fd) != 0) err = std::string("fsync failed: ") + std::strerror(errno);
  if (::close(fd) != 0 && err.empty()) err = std::string("close failed: ") + std::strerror(errno);
  if (err.empty() && std::rename(tmp.c_str(), path.c_str()) != 0)
    err = std::string("rename failed: ") + std::strerror(errno);
  if (!err.empty()) {
    ::unlink(tmp.c_str());
    VPS_FAIL("cannot write '", path, "': ", err);
  }
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {  // best effort: make the rename durable
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void ByteReader::seek(size_t pos) {
  VPS_CHECK(pos <= n_, what_, ": offset ", pos, " is beyond the end (", n_, " bytes)");
  pos_ = pos;
}

const uint8_t* ByteReader::take(size_t k) {
  VPS_CHECK(k <= n_ - pos_, what_, ": truncated at offset ", pos_, " (need ", k, " bytes, have ", n_ - pos_, ")");
  const uint8_t* r = p_ + pos_;
  pos_ += k;
  return r;
}

uint16_t ByteReader::u16() {
  const uint8_t* b = take(2);
  return uint16_t(b[0] | (b[1] << 8));
}

uint32_t ByteReader::u32() {
  const uint8_t* b = take(4);
  return uint32_t(b[0]) | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16) | (uint32_t(b[3]) << 24);
}

uint64_t ByteReader::u64() {
  uint64_t lo = u32();
  uint64_t hi = u32();
  return lo | (hi << 32);
}

}  // namespace vps
