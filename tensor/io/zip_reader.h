// A read-only zip archive over bytes in memory, enough for PyTorch checkpoints: stored and deflated
// entries, ZIP64 end records and extra fields, CRC-32 checked. Encrypted or multi-disk archives are refused.
#pragma once
#include <string>
#include <vector>

#include "tensor/io/raw_array.h"

namespace vps {

class ZipReader {
 public:
  struct Entry {
    std::string name;
    uint16_t method = 0;  // 0 stored, 8 deflate
    uint32_t crc = 0;
    uint64_t compressed_size = 0, size = 0, local_offset = 0;
  };

  // Parses the central directory. `what` names the file in errors. `data` must outlive the reader.
  ZipReader(const uint8_t* data, size_t size, std::string what);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;  // nullptr when absent
  // The entry's bytes: a view into the archive for stored entries, else inflated into `scratch`.
  // Checks the local header, the bounds and the CRC.
  ByteSpan read(const Entry& e, std::vector<uint8_t>* scratch) const;

  // True when the bytes start like a zip archive (local file header signature).
  static bool looks_like_zip(const uint8_t* data, size_t size);

 private:
  size_t find_eocd() const;
  void read_central_directory(uint64_t offset, uint64_t size, uint64_t count);

  const uint8_t* data_;
  size_t size_;
  std::string what_;
  std::vector<Entry> entries_;
};

}  // namespace vps
