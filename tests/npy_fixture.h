// Tiny .npy reader for test fixtures: little-endian float64 ('<f8'), C order, format 1.0 / 2.0.
// (tensor/npy.h from the `pth` branch replaces this once merged.)
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/tensor.h"

namespace vps::testing {

inline std::string fixture_path(const std::string& rel) {
#ifdef VPS_FIXTURE_DIR
  return std::string(VPS_FIXTURE_DIR) + "/" + rel;
#else
  return "tests/fixtures/" + rel;
#endif
}

// Reads `tests/fixtures/<rel>` as a float64 CPU tensor.
inline Tensor read_npy_f64(const std::string& rel) {
  std::string path = fixture_path(rel);
  std::ifstream f(path, std::ios::binary);
  VPS_CHECK(f, "npy fixture: cannot open ", path);
  std::string buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  VPS_CHECK(buf.size() >= 12 && buf.compare(0, 6, "\x93NUMPY") == 0, "npy fixture: bad magic in ", path);
  int major = uint8_t(buf[6]);
  size_t hl, start;
  if (major == 1) {
    hl = uint8_t(buf[8]) | (size_t(uint8_t(buf[9])) << 8), start = 10;
  } else {
    hl = 0;
    for (int i = 0; i < 4; ++i) hl |= size_t(uint8_t(buf[8 + i])) << (8 * i);
    start = 12;
  }
  VPS_CHECK(buf.size() >= start + hl, "npy fixture: truncated header in ", path);
  std::string h = buf.substr(start, hl);
  VPS_CHECK(h.find("'<f8'") != std::string::npos && h.find("'fortran_order': False") != std::string::npos,
            "npy fixture: expected C-order <f8 in ", path, ": ", h);
  size_t a = h.find("'shape': ("), b = h.find(')', a);
  VPS_CHECK(a != std::string::npos && b != std::string::npos, "npy fixture: no shape in ", path);
  Shape shape;
  std::string dims = h.substr(a + 10, b - a - 10);
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t q = dims.find(',', pos);
    std::string tok = dims.substr(pos, q == std::string::npos ? std::string::npos : q - pos);
    if (tok.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoll(tok));
    if (q == std::string::npos) break;
    pos = q + 1;
  }
  int64_t n = shape_numel(shape);
  VPS_CHECK(buf.size() >= start + hl + size_t(n) * 8, "npy fixture: truncated data in ", path);
  std::vector<double> v(static_cast<size_t>(n));
  std::memcpy(v.data(), buf.data() + start + hl, size_t(n) * 8);
  return Tensor::from_vector<double>(v, shape);
}

}  // namespace vps::testing
