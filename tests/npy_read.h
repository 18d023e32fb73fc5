// Minimal .npy reader for test fixtures (float64, little-endian, C order; versions 1-3). Throws
// vps::Error naming the file on anything else. Tests use it until tensor/npy.h (branch `pth`) lands.
#pragma once
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/tensor.h"

namespace vps::testing {

inline Tensor read_npy_f64(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  VPS_CHECK(f.good(), "npy: cannot open ", path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  VPS_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, "npy: ", path, " is not a .npy file");
  unsigned major = uint8_t(bytes[6]);
  size_t hlen, hstart;
  if (major == 1) {
    hlen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    hstart = 10;
  } else {
    VPS_CHECK(bytes.size() >= 12, "npy: ", path, " truncated header");
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    hstart = 12;
  }
  VPS_CHECK(bytes.size() >= hstart + hlen, "npy: ", path, " truncated header");
  std::string h = bytes.substr(hstart, hlen);
  VPS_CHECK(h.find("'descr': '<f8'") != std::string::npos, "npy: ", path, " is not float64: ", h);
  VPS_CHECK(h.find("'fortran_order': False") != std::string::npos, "npy: ", path, " is Fortran-ordered");
  size_t lp = h.find('(', h.find("'shape'")), rp = h.find(')', lp);
  VPS_CHECK(lp != std::string::npos && rp != std::string::npos, "npy: ", path, " has no shape: ", h);
  Shape shape;
  std::string dims = h.substr(lp + 1, rp - lp - 1);
  for (size_t i = 0; i < dims.size();) {
    size_t j = dims.find(',', i);
    if (j == std::string::npos) j = dims.size();
    std::string tok = dims.substr(i, j - i);
    if (tok.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoll(tok));
    i = j + 1;
  }
  int64_t n = shape_numel(shape);
  size_t data = hstart + hlen;
  VPS_CHECK(bytes.size() == data + size_t(n) * 8, "npy: ", path, " has ", bytes.size() - data, " data bytes, expected ",
            n * 8, " for shape ", shape_str(shape));
  std::vector<double> v(static_cast<size_t>(n));
  if (n) std::memcpy(v.data(), bytes.data() + data, size_t(n) * 8);
  return Tensor::from_vector<double>(v, shape);
}

}  // namespace vps::testing
