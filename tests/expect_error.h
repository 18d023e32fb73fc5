// expect_error(f, {parts...}): f must throw vps::Error whose message contains every part (the op's
// name, the offending shapes). Built on error_of (tests/error_of.h).
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/error_of.h"

namespace vps::testing {

inline void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  std::string msg = error_of(f);
  EXPECT_FALSE(msg.empty()) << "expected vps::Error";
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << msg << " lacks " << p;
}

}  // namespace vps::testing
