#include <gtest/gtest.h>

#include "tensor/blas.h"

using namespace vps;

// Nested scopes keep one thread until the outermost ends, which restores the previous count.
TEST(BlasThreads, SingleThreadedScopeNestsAndRestores) {
  int original = blas::cpu_threads();
  blas::set_cpu_threads(2);
  {
    blas::SingleThreadedCpuBlas outer;
    EXPECT_EQ(blas::cpu_threads(), 1);
    {
      blas::SingleThreadedCpuBlas inner;
      EXPECT_EQ(blas::cpu_threads(), 1);
    }
    EXPECT_EQ(blas::cpu_threads(), 1);
  }
  EXPECT_EQ(blas::cpu_threads(), 2);
  blas::set_cpu_threads(original);
}
