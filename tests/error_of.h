// Test helper: the message of the vps::Error that f throws, or "" when it throws none.
#pragma once
#include <functional>
#include <string>

#include "tensor/check.h"

namespace vps::testing {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const vps::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace vps::testing
