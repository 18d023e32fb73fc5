// Anchors: hand-worked base anchors, the float32 golden fixture of the spec's formula, grid layout,
// valid and inside flags, bad input.
#include <gtest/gtest.h>

#include "layers/anchors.h"
#include "tensor/device.h"
#include "tests/gradcheck.h"
#include "tests/det_fixture.h"

using namespace vps;
using vps::testing::det_fixture;
using vps::testing::expect_error;

TEST(DetAnchors, BaseStride4HandWorked) {
  // ratio 0.5: ws = 4*sqrt(2)*8 = 45.25, hs = 22.63, centre 1.5: x1 = 1.5 - 22.13 = -20.63 -> -21, y1 -> -9.
  // ratio 1: 32x32 around 1.5: (-14, -14, 17, 17) exactly. ratio 2 is the transpose of ratio 0.5.
  Tensor b = base_anchors(4, {8}, {0.5, 1.0, 2.0});
  std::vector<float> want = {-21, -9, 24, 12, -14, -14, 17, 17, -9, -21, 12, 24};
  EXPECT_EQ(b.shape(), (Shape{3, 4}));
  EXPECT_EQ(b.to_vector<float>(), want);
}

TEST(DetAnchors, BaseMatchesFixtureAllStrides) {
  for (int s : {4, 8, 16, 32, 64}) {
    Tensor want = det_fixture("anchors_base_s" + std::to_string(s));
    Tensor got = base_anchors(s, {8}, {0.5, 1.0, 2.0});
    EXPECT_EQ(got.to_vector<float>(), want.to_vector<float>()) << "stride " << s;
  }
}

TEST(DetAnchors, RatioMajorOrderWithTwoScales) {
  Tensor b = base_anchors(16, {4, 8}, {0.5, 2.0});
  std::vector<float> v = b.to_vector<float>();
  // a = ratio_i * 2 + scale_j: rows 0,1 are ratio 0.5 (wide), rows 2,3 ratio 2 (tall); scale 8 larger.
  EXPECT_GT(v[0 * 4 + 2] - v[0 * 4 + 0], v[0 * 4 + 3] - v[0 * 4 + 1]);
  EXPECT_LT(v[2 * 4 + 2] - v[2 * 4 + 0], v[2 * 4 + 3] - v[2 * 4 + 1]);
  EXPECT_GT(v[1 * 4 + 2] - v[1 * 4 + 0], v[0 * 4 + 2] - v[0 * 4 + 0]);
}

TEST(DetAnchors, GridLayout) {
  Tensor base = base_anchors(8, {8}, {0.5, 1.0, 2.0});
  Tensor g = grid_anchors(base, 2, 3, 8);
  ASSERT_EQ(g.shape(), (Shape{2 * 3 * 3, 4}));
  std::vector<float> b = base.to_vector<float>(), v = g.to_vector<float>();
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int a = 0; a < 3; ++a) {
        int row = (y * 3 + x) * 3 + a;
        EXPECT_EQ(v[row * 4 + 0], b[a * 4 + 0] + x * 8);
        EXPECT_EQ(v[row * 4 + 1], b[a * 4 + 1] + y * 8);
        EXPECT_EQ(v[row * 4 + 2], b[a * 4 + 2] + x * 8);
        EXPECT_EQ(v[row * 4 + 3], b[a * 4 + 3] + y * 8);
      }
  auto levels = multi_level_anchors(AnchorSpec{}, {{4, 5}, {2, 3}, {1, 2}, {1, 1}, {1, 1}});
  ASSERT_EQ(levels.size(), 5u);
  EXPECT_EQ(levels[0].size(0), 4 * 5 * 3);
  EXPECT_EQ(levels[4].to_vector<float>(), base_anchors(64, {8}, {0.5, 1, 2}).to_vector<float>());
}

TEST(DetAnchors, ValidAndInsideFlags) {
  int64_t vh = 0, vw = 0;
  anchor_valid_size(20, 30, 8, 4, 4, &vh, &vw);  // ceil(20/8)=3, min(ceil(30/8)=4, 4)=4
  EXPECT_EQ(vh, 3);
  EXPECT_EQ(vw, 4);
  Tensor f = anchor_valid_flags(3, 4, 2, 3, 2);
  std::vector<uint8_t> v = f.to_vector<uint8_t>();
  ASSERT_EQ(v.size(), 24u);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int a = 0; a < 2; ++a) EXPECT_EQ(v[(y * 4 + x) * 2 + a], (x < 3 && y < 2) ? 1 : 0);
  Tensor an = Tensor::from_vector<float>({0, 0, 9, 9, -1, 0, 5, 5, 0, 0, 10, 5, 2, 2, 4, 4}, {4, 4});
  Tensor fl = Tensor::from_vector<uint8_t>({1, 1, 1, 0}, {4});
  EXPECT_EQ(anchor_inside_flags(an, fl, 10, 10, 0).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(anchor_inside_flags(an, fl, 10, 10, 1).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 1, 0}));
  EXPECT_EQ(anchor_inside_flags(an, fl, 10, 10, -1).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 1, 0}));
}

TEST(DetAnchors, BadInput) {
  expect_error([] { base_anchors(8, {8}, {0.0}); }, "base_anchors");
  expect_error([] { anchor_valid_flags(3, 4, 5, 3, 3); }, "anchor_valid_flags");
  expect_error([] { grid_anchors(Tensor::zeros({3, 5}), 2, 2, 4); }, "grid_anchors", "[3, 5]");
  expect_error([] { anchor_inside_flags(Tensor::zeros({3, 4}), Tensor::zeros({2}, DType::u8), 8, 8); },
               "anchor_inside_flags", "[3, 4]");
}

TEST(DetAnchors, CudaParity) {
  VPS_REQUIRE_CUDA();
  Tensor base = base_anchors(16, {8}, {0.5, 1, 2});
  Tensor c = grid_anchors(base, 5, 7, 16, cuda_device(0));
  EXPECT_EQ(c.cpu().to_vector<float>(), grid_anchors(base, 5, 7, 16).to_vector<float>());
  EXPECT_EQ(anchor_valid_flags(5, 7, 4, 6, 3, cuda_device(0)).cpu().to_vector<uint8_t>(),
            anchor_valid_flags(5, 7, 4, 6, 3).to_vector<uint8_t>());
}
