// Core ops against golden values from PyTorch (tests/fixtures/core/make_core_fixtures.py), f64, 1e-10.
#include <gtest/gtest.h>

#include <fstream>

#include "ops/ops.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::core_fixture;

TEST(CoreFixtures, SoftmaxAndLogSoftmaxDim1) {
  Tensor x = core_fixture("softmax_x");
  ASSERT_EQ(x.shape(), (Shape{3, 5, 4}));
  EXPECT_ALLCLOSE(softmax(x, 1), core_fixture("softmax_y"), 1e-10, 0);
  EXPECT_ALLCLOSE(log_softmax(x, 1), core_fixture("log_softmax_y"), 1e-10, 0);
  EXPECT_ALLCLOSE(softmax(x, -2), core_fixture("softmax_y"), 1e-10, 0);
}

TEST(CoreFixtures, BroadcastingChainValueAndGradients) {
  Tensor a = core_fixture("chain_a").set_requires_grad();
  Tensor b = core_fixture("chain_b").set_requires_grad();
  Tensor c = core_fixture("chain_c").set_requires_grad();
  Tensor d = core_fixture("chain_d").set_requires_grad();
  Tensor y = sum(div(sigmoid(add(mul(a, b), c)), add(exp(neg(d)), 1.0)));
  EXPECT_ALLCLOSE(y.reshape({1}), core_fixture("chain_y"), 1e-10, 0);
  y.backward();
  EXPECT_ALLCLOSE(a.grad(), core_fixture("chain_grad_a"), 1e-10, 0);
  EXPECT_ALLCLOSE(b.grad(), core_fixture("chain_grad_b"), 1e-10, 0);
  EXPECT_ALLCLOSE(c.grad(), core_fixture("chain_grad_c"), 1e-10, 0);
  EXPECT_ALLCLOSE(d.grad(), core_fixture("chain_grad_d"), 1e-10, 0);
}

TEST(CoreFixtures, NpyReaderRejectsMissingAndTruncatedFiles) {
  EXPECT_THROW(vps::testing::read_npy_fixture("tests/fixtures/core/does_not_exist.npy"), vps::Error);
  std::string path = ::testing::TempDir() + "vps_truncated.npy";
  {
    std::ifstream in("tests/fixtures/core/chain_d.npy", std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(path, std::ios::binary);
    out.write(s.data(), std::streamsize(s.size() - 8));
  }
  try {
    vps::testing::read_npy_fixture(path);
    FAIL() << "expected vps::Error";
  } catch (const vps::Error& e) {
    EXPECT_NE(std::string(e.what()).find("vps_truncated.npy"), std::string::npos) << e.what();
  }
}
