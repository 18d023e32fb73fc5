// Tiny .npy reader for golden fixtures (little-endian '<f4' '<f8' '<i8' '<i4', C order), used until
// tensor/npy.h lands on this branch. Fails the calling test through vps::Error on a bad file.
#pragma once
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace vps::testing {

inline Tensor load_npy_fixture(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  VPS_CHECK(f.good(), "load_npy_fixture: cannot open ", path, " (run the tests from the repository root)");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  VPS_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, "load_npy_fixture: ", path, " is not .npy");
  size_t hlen = 0, hstart = 0;
  if (bytes[6] == 1) {
    hlen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    hstart = 10;
  } else {
    VPS_CHECK(bytes.size() >= 12, "load_npy_fixture: ", path, " truncated");
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    hstart = 12;
  }
  VPS_CHECK(bytes.size() >= hstart + hlen, "load_npy_fixture: ", path, " truncated header");
  std::string h = bytes.substr(hstart, hlen);
  auto field = [&](const std::string& key) {
    size_t p = h.find("'" + key + "'");
    VPS_CHECK(p != std::string::npos, "load_npy_fixture: ", path, " header lacks ", key);
    return h.substr(h.find(':', p) + 1);
  };
  std::string descr = field("descr");
  descr = descr.substr(descr.find('\'') + 1, 3);
  VPS_CHECK(field("fortran_order").find("False") < 3, "load_npy_fixture: ", path, " is Fortran-ordered");
  std::string sh = field("shape");
  sh = sh.substr(sh.find('(') + 1, sh.find(')') - sh.find('(') - 1);
  Shape shape;
  for (size_t i = 0; i < sh.size();) {
    size_t j = sh.find(',', i);
    std::string tok = sh.substr(i, j == std::string::npos ? std::string::npos : j - i);
    if (tok.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoll(tok));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  DType dt = descr == "<f4" ? DType::f32 : descr == "<f8" ? DType::f64 : descr == "<i8" ? DType::i64
                                                                      : descr == "<i4" ? DType::i32 : DType::u8;
  VPS_CHECK(descr == "<f4" || descr == "<f8" || descr == "<i8" || descr == "<i4", "load_npy_fixture: ", path,
            " has unsupported dtype ", descr);
  Tensor t = Tensor::empty(shape, dt);
  size_t need = size_t(t.numel()) * dtype_size(dt), start = hstart + hlen;
  VPS_CHECK(bytes.size() >= start + need, "load_npy_fixture: ", path, " truncated data");
  if (need) std::memcpy(t.raw_data(), bytes.data() + start, need);
  return t;
}

inline Tensor det_fixture(const std::string& name) { return load_npy_fixture("tests/fixtures/det/" + name + ".npy"); }

}  // namespace vps::testing
