// Helpers of the detection-op tests: golden fixtures under tests/fixtures/det and bad-input checks.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "tests/error_of.h"
#include "tests/npy_fixture.h"

namespace vps::testing {

inline Tensor det_fixture(const std::string& name) { return read_npy_fixture("tests/fixtures/det/" + name + ".npy"); }

// f must throw a vps::Error whose message names `op` (and `also`, when given).
inline void expect_error(const std::function<void()>& f, const char* op, const char* also = nullptr) {
  std::string m = error_of(f);
  EXPECT_FALSE(m.empty()) << "no error for " << op;
  EXPECT_NE(m.find(op), std::string::npos) << m;
  if (also) {
    EXPECT_NE(m.find(also), std::string::npos) << m;
  }
}

}  // namespace vps::testing
