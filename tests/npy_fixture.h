// Tiny .npy reader for golden fixtures (little-endian '<f4', '<f8', '<i8', C order only), until the
// library's tensor/npy.h lands in this branch. Fixture files are written by tools/fixtures/*.py.
#pragma once
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/tensor.h"

namespace vps::testing {

#ifndef VPS_FIXTURE_DIR
#define VPS_FIXTURE_DIR "tests/fixtures"
#endif

inline Tensor load_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  VPS_CHECK(f.good(), "load_npy: cannot open ", path, " (run the tests from the repository root)");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  VPS_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, "load_npy: ", path, ": not an npy file");
  int major = uint8_t(bytes[6]);
  size_t hlen, hstart;
  if (major == 1) {
    hlen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    hstart = 10;
  } else {
    VPS_CHECK(bytes.size() >= 12, "load_npy: ", path, ": truncated");
    hlen = 0;
    for (int k = 0; k < 4; ++k) hlen |= size_t(uint8_t(bytes[8 + k])) << (8 * k);
    hstart = 12;
  }
  VPS_CHECK(bytes.size() >= hstart + hlen, "load_npy: ", path, ": truncated header");
  std::string h = bytes.substr(hstart, hlen);
  VPS_CHECK(h.find("'fortran_order': False") != std::string::npos, "load_npy: ", path, ": Fortran order");
  DType dt;
  if (h.find("'<f4'") != std::string::npos) dt = DType::f32;
  else if (h.find("'<f8'") != std::string::npos) dt = DType::f64;
  else if (h.find("'<i8'") != std::string::npos) dt = DType::i64;
  else VPS_FAIL("load_npy: ", path, ": unsupported dtype in header ", h);
  size_t a = h.find("'shape': (") + 10, b = h.find(')', a);
  Shape shape;
  std::stringstream ss(h.substr(a, b - a));
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (tok.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(tok));
  Tensor t = Tensor::empty(shape, dt);
  VPS_CHECK(bytes.size() == hstart + hlen + t.nbytes(), "load_npy: ", path, ": size mismatch");
  std::memcpy(t.raw_data(), bytes.data() + hstart + hlen, t.nbytes());
  return t;
}

// tests/fixtures/<area>/<name>.npy
inline Tensor fixture(const std::string& area, const std::string& name) {
  return load_npy(std::string(VPS_FIXTURE_DIR) + "/" + area + "/" + name + ".npy");
}

}  // namespace vps::testing
