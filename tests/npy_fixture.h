// fixture("nn", "bn_train_x") -> tests/fixtures/nn/bn_train_x.npy as a float64 CPU tensor, read with
// the shared test reader (tests/npy_read.h) until tensor/npy.h lands in this branch.
#pragma once
#include <string>

#include "tests/npy_read.h"

namespace vps::testing {

inline Tensor fixture(const std::string& area, const std::string& name) {
  return read_npy_f64("tests/fixtures/" + area + "/" + name + ".npy");
}

}  // namespace vps::testing
