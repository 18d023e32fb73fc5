// Test entry point. GPU-only tests skip with a message when no GPU is present (VPS_REQUIRE_CUDA in tests/gradcheck.h).
#include <gtest/gtest.h>

#include <cstdio>

#include "tensor/device.h"

// Under AddressSanitizer (make DEBUG=1 test) an impossible allocation must throw std::bad_alloc as it
// does without it -- the tests of absurd sizes check that it becomes a named error -- instead of
// aborting the run. Without ASan this function is never called.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  std::printf("vps tests: CUDA %s\n", vps::cuda_available() ? "available: parity tests run"
                                                             : "not available: CUDA parity tests skip");
  int rc = RUN_ALL_TESTS();
  const testing::UnitTest& u = *testing::UnitTest::GetInstance();
  // A plain closing line that any CI log reader understands.
  std::printf("tests: %d passed, %d failed, %d skipped\n", u.successful_test_count(), u.failed_test_count(),
              u.skipped_test_count());
  return rc;
}
