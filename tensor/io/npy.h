// NumPy .npy files (format versions 1.0, 2.0 and 3.0): magic "\x93NUMPY", version, header length,
// a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } and the raw data.
// Supported descr: '<f4' '<f8' '<f2' '<i8' '<i4' '|u1' '|b1'. Fortran order and big-endian data are refused.
#pragma once
#include <string>

#include "tensor/io/raw_array.h"

namespace vps {

// Reads a whole .npy file; vps::Error naming the file on a bad magic, version, header, dtype or truncation.
RawArray read_npy(const std::string& path);
RawArray parse_npy(const uint8_t* data, size_t size, const std::string& what);

// Writes atomically; version 1.0 unless the header needs 2.0. bf16 has no npy dtype and is refused.
void write_npy(const std::string& path, const RawArray& a);

}  // namespace vps
