// Tiny .npy reader for golden fixtures in tests ('<f8', '<f4', '<i8'; little-endian, C order).
// Throws vps::Error naming the file on anything else. Superseded by tensor/npy.h once it lands.
#pragma once
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/tensor.h"

namespace vps::testing {

inline Tensor read_npy_fixture(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  VPS_CHECK(f.good(), "read_npy_fixture: cannot open ", path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  VPS_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, "read_npy_fixture: not an npy file: ", path);
  int major = uint8_t(bytes[6]);
  size_t hlen, hstart;
  if (major == 1) {
    hlen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    hstart = 10;
  } else {
    VPS_CHECK(bytes.size() >= 12, "read_npy_fixture: truncated header in ", path);
    hlen = 0;
    for (int k = 0; k < 4; ++k) hlen |= size_t(uint8_t(bytes[8 + k])) << (8 * k);
    hstart = 12;
  }
  VPS_CHECK(bytes.size() >= hstart + hlen, "read_npy_fixture: truncated header in ", path);
  std::string h = bytes.substr(hstart, hlen);
  VPS_CHECK(h.find("'fortran_order': False") != std::string::npos, "read_npy_fixture: Fortran order in ", path);
  DType dt;
  if (h.find("'<f8'") != std::string::npos) dt = DType::f64;
  else if (h.find("'<f4'") != std::string::npos) dt = DType::f32;
  else if (h.find("'<i8'") != std::string::npos) dt = DType::i64;
  else VPS_FAIL("read_npy_fixture: unsupported dtype in ", path, " header ", h);
  size_t lp = h.find("'shape': ("), rp = h.find(')', lp);
  VPS_CHECK(lp != std::string::npos && rp != std::string::npos, "read_npy_fixture: no shape in ", path);
  Shape shape;
  std::string dims = h.substr(lp + 10, rp - lp - 10);
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t comma = dims.find(',', pos);
    std::string tok = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (tok.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoll(tok));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  Tensor t = Tensor::empty(shape, dt);
  size_t data_start = hstart + hlen;
  VPS_CHECK(bytes.size() - data_start == t.nbytes(), "read_npy_fixture: ", path, " holds ", bytes.size() - data_start,
            " data bytes, expected ", t.nbytes(), " for shape ", shape_str(shape));
  std::memcpy(t.raw_data(), bytes.data() + data_start, t.nbytes());
  return t;
}

// tests/fixtures/<area>/<name>.npy, relative to the repository root (tests run from there).
inline Tensor core_fixture(const std::string& name) { return read_npy_fixture("tests/fixtures/core/" + name + ".npy"); }

}  // namespace vps::testing
