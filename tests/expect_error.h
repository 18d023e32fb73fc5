// expect_error(f, {parts...}): f must throw vps::Error whose message contains every part (the op's
// name, the offending shapes). Shared by the op tests' bad-input cases.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tensor/check.h"

namespace vps::testing {

template <class F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected vps::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << msg << " lacks " << p;
  }
}

}  // namespace vps::testing
