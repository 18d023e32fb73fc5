// Helpers of the detection-op tests: golden fixtures under tests/fixtures/det and bad-input checks.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/expect_error.h"
#include "tests/npy_fixture.h"

namespace vps::testing {

inline Tensor det_fixture(const std::string& name) { return read_npy_fixture("tests/fixtures/det/" + name + ".npy"); }

// f must throw a vps::Error whose message names `op` (and `also`, when given).
inline void expect_error(const std::function<void()>& f, const char* op, const char* also = nullptr) {
  expect_error(f, also ? std::vector<std::string>{op, also} : std::vector<std::string>{op});
}

}  // namespace vps::testing
