// STQ against hand-computed answers.
#include <cmath>

#include <gtest/gtest.h>

#include "eval/stq.h"

using namespace vps::eval;

namespace {
const std::vector<vps::data::Category> kCats = {{0, "road", false, {}}, {1, "car", true, {}}};
}

TEST(Stq, IdSwitchHalvesAssociation) {
  // GT car track 7: 5 px in each of 2 frames (+3 road px). Predicted as 100 then 200.
  // AQ = 1/|g| * sum_p TPA * IoU(p, g) = 1/10 * (5 * 5/10 + 5 * 5/10) = 0.5; semantics perfect: SQ 1.
  StqAccumulator acc(2, {1});
  for (uint32_t pid : {100u, 200u}) {
    std::vector<uint32_t> gt = {7, 7, 7, 7, 7, 3, 3, 3}, pred = {pid, pid, pid, pid, pid, 3, 3, 3};
    acc.add("v", stq_frame(gt, pred, {{7, 1, 0, 5}, {3, 0, 0, 3}}, {{pid, 1, 0, 0}, {3, 0, 0, 0}}, kCats));
  }
  StqResult r = acc.result();
  EXPECT_DOUBLE_EQ(r.aq, 0.5);
  EXPECT_DOUBLE_EQ(r.sq, 1.0);
  EXPECT_DOUBLE_EQ(r.stq, std::sqrt(0.5));
  ASSERT_EQ(r.sequences.size(), 1u);
  EXPECT_EQ(r.sequences[0].tubes, 1);
}

TEST(Stq, CrowdIgnoredForAssociationVoidColumnCountsForIou) {
  // GT: car crowd (id 9, iscrowd) 2 px, car track 7 2 px, road 3 2 px, void 2 px.
  // Pred: car 50 on the crowd and the track (4 px), road 3 on road (2 px) and on GT void (2 px, ignored).
  std::vector<uint32_t> gt = {9, 9, 7, 7, 3, 3, 0, 0}, pred = {50, 50, 50, 50, 3, 3, 3, 3};
  StqAccumulator acc(2, {1});
  acc.add("v", stq_frame(gt, pred, {{9, 1, 1, 2}, {7, 1, 0, 2}, {3, 0, 0, 2}}, {{50, 1, 0, 0}, {3, 0, 0, 0}}, kCats));
  StqResult r = acc.result();
  // Crowd pixels are removed from the prediction too: pred 50 has 2 px, all on track 7 -> AQ 1.
  EXPECT_DOUBLE_EQ(r.aq, 1.0);
  EXPECT_DOUBLE_EQ(r.sq, 1.0);  // GT-void rows removed: road 2/2, car 4/4
  // Now predict the road pixels as void: the ignore column adds a zero-IoU class (deeplab2 behaviour).
  StqAccumulator acc2(2, {1});
  std::vector<uint32_t> pred2 = {50, 50, 50, 50, 0, 0, 0, 0};
  acc2.add("v", stq_frame(gt, pred2, {{9, 1, 1, 2}, {7, 1, 0, 2}, {3, 0, 0, 2}}, {{50, 1, 0, 0}}, kCats));
  StqResult r2 = acc2.result();
  // road: 0/2; car: 4/4; void column: 0/2 -> mIoU = (0 + 1 + 0) / 3.
  EXPECT_DOUBLE_EQ(r2.sq, 1.0 / 3.0);
}
