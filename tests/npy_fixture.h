// Golden fixtures (committed .npy files under tests/fixtures/<area>/), read with tensor/io/npy.h.
#pragma once
#include <string>

#include "tensor/io/tensor_io.h"

namespace vps::testing {

inline Tensor read_npy_fixture(const std::string& path) { return load_npy(path); }

// tests/fixtures/core/<name>.npy, relative to the repository root (tests run from there).
inline Tensor core_fixture(const std::string& name) { return read_npy_fixture("tests/fixtures/core/" + name + ".npy"); }

// fixture("nn", "bn_train_x") -> tests/fixtures/nn/bn_train_x.npy as a float64 tensor.
inline Tensor fixture(const std::string& area, const std::string& name) {
  return read_npy_fixture("tests/fixtures/" + area + "/" + name + ".npy").to(DType::f64);
}

}  // namespace vps::testing
