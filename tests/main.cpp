// Test entry point. GPU-only tests skip with a message when no GPU is present (see parity.h).
#include <gtest/gtest.h>

#include <cstdio>

#include "tensor/device.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  std::printf("vps tests: CUDA %s\n", vps::cuda_available() ? "available: parity tests run"
                                                             : "not available: CUDA parity tests skip");
  return RUN_ALL_TESTS();
}
