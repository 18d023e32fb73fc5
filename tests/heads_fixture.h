// Helpers of the detection-head tests: fixtures under tests/fixtures/heads (tests/fixtures/heads/make_heads.py).
#pragma once
#include <string>

#include "tests/npy_fixture.h"

namespace vps::testing {

inline Tensor heads_fixture(const std::string& name) { return fixture("heads", name); }
// A float64 parameter from the fixtures (requires grad, like a module parameter).
inline Tensor heads_param(const std::string& name) { return heads_fixture(name).set_requires_grad(true); }

}  // namespace vps::testing
