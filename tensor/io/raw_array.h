// A neutral, framework-free array: dtype + shape + contiguous row-major little-endian bytes.
// The serialization code (safetensors, npy, .pth) works on these; Tensor adapters live elsewhere.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor/dtype.h"

namespace vps {

struct RawArray {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // contiguous, row-major, little-endian; size == numel * dtype_size

  int64_t numel() const;
  size_t nbytes() const { return data.size(); }
};

// Named arrays in file order.
using NamedArrays = std::vector<std::pair<std::string, RawArray>>;

// Product of dims; throws vps::Error naming `what` on negative dims or int64 overflow.
int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what);
// "[2, 3]"
std::string shape_str(const std::vector<int64_t>& shape);

// Converts a floating array (f16, bf16, f64, f32) to f32; other dtypes are returned unchanged.
RawArray to_f32(const RawArray& a);

// The folder of a file path: "a/b/c.json" -> "a/b", "c.json" -> ".", "/c.json" -> "/". The one
// dir_of of the project (atomic writes fsync it; `vps train` reads a config's files relative to it).
std::string dir_of(const std::string& path);

// Whole file into memory; vps::Error naming the path when it cannot be opened or read. Bounded: only a
// regular file is read (a link to /dev/zero, a pipe or a folder is refused before any byte), and only
// when its size is below `max_bytes` (0: half of this machine's memory), both named in the error;
// at most the size fstat gave is read, so a file that grows meanwhile cannot run away.
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes = 0);

// Writes `parts` (concatenated) to `path` atomically: `path.tmp.<pid>`, fsync, rename, fsync of the
// directory. On any failure the temp file is removed and vps::Error names the path.
struct ByteSpan {
  const void* data;
  size_t size;
};
void write_file_atomic(const std::string& path, const std::vector<ByteSpan>& parts);

// Little-endian readers over a bounded buffer; every read checks the bounds and throws vps::Error
// "<what>: truncated at offset N (need K bytes, have M)".
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string what) : p_(data), n_(size), what_(std::move(what)) {}
  size_t pos() const { return pos_; }
  size_t size() const { return n_; }
  size_t remaining() const { return n_ - pos_; }
  void seek(size_t pos);
  const uint8_t* take(size_t k);  // pointer to the next k bytes, advances
  uint8_t u8() { return *take(1); }
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  const std::string& what() const { return what_; }

 private:
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  std::string what_;
};

}  // namespace vps
