// IDF1 and ID switches (eval/id_metrics.h) on hand-made sequences of 1-D "frames": a track held, a swap
// of two identities half-way, a fragment, a class mismatch and an IoU of exactly 0.5 (no match); and the
// one-to-one pairing (Hungarian) against brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "eval/id_metrics.h"
#include "eval/stq.h"

using namespace vps::eval;

namespace {
// A frame of n pixels: gt/pred given as (class, track) per pixel; track 0 = no instance.
StqFrame frame(const std::vector<std::pair<int, uint64_t>>& gt, const std::vector<std::pair<int, uint64_t>>& pred) {
  StqFrame f;
  for (auto& [c, t] : gt) f.gt_sem.push_back(uint8_t(c)), f.gt_track.push_back(t);
  for (auto& [c, t] : pred) f.pred_sem.push_back(uint8_t(c)), f.pred_track.push_back(t);
  return f;
}
}  // namespace

// Two cars (class 13) over four frames; the prediction swaps their identities from frame 3 on.
TEST(IdMetrics, SwapHalfWayCostsTwoSwitchesAndHalfTheIdf1) {
  IdAccumulator acc;
  for (int t = 0; t < 4; ++t) {
    uint64_t a = t < 2 ? 7 : 8, b = t < 2 ? 8 : 7;
    acc.add("v", frame({{13, 1}, {13, 1}, {0, 0}, {13, 2}, {13, 2}}, {{13, a}, {13, a}, {0, 0}, {13, b}, {13, b}}));
  }
  IdResult r = acc.result();
  EXPECT_EQ(r.all.gt, 8);
  EXPECT_EQ(r.all.pred, 8);
  EXPECT_EQ(r.all.matched, 8);
  EXPECT_EQ(r.all.switches, 2);
  EXPECT_EQ(r.all.idtp, 4);  // each GT track paired with one predicted track for 2 of its 4 frames
  EXPECT_DOUBLE_EQ(r.all.idf1(), 0.5);
  EXPECT_EQ(r.per_class.at(13).switches, 2);
}

// One person held over three frames: IDF1 1, no switch. A fragment (a new predicted id in frame 2 that
// returns to the first id in frame 3) counts two switches; sequences are separate.
TEST(IdMetrics, HeldTrackAndFragment) {
  IdAccumulator acc;
  for (int t = 0; t < 3; ++t) acc.add("a", frame({{11, 5}, {11, 5}}, {{11, 9}, {11, 9}}));
  for (uint64_t p : {3, 4, 3}) acc.add("b", frame({{11, 5}, {11, 5}}, {{11, p}, {11, p}}));
  IdResult r = acc.result();
  EXPECT_EQ(r.all.matched, 6);
  EXPECT_EQ(r.all.switches, 2);
  EXPECT_EQ(r.all.idtp, 3 + 2);
  EXPECT_DOUBLE_EQ(r.all.idf1(), 2.0 * 5 / 12);
}

// IoU exactly 0.5 is no match (strictly greater is needed), nor is another class.
TEST(IdMetrics, HalfIoUAndOtherClassDoNotMatch) {
  IdAccumulator acc;
  acc.add("v", frame({{11, 1}, {11, 1}, {0, 0}}, {{11, 2}, {0, 0}, {0, 0}}));  // IoU 1/2
  acc.add("v", frame({{11, 1}, {11, 1}, {0, 0}}, {{12, 2}, {12, 2}, {0, 0}}));  // rider for a person
  IdResult r = acc.result();
  EXPECT_EQ(r.all.matched, 0);
  EXPECT_EQ(r.all.idtp, 0);
  EXPECT_EQ(r.all.gt, 2);
  EXPECT_EQ(r.all.pred, 2);
  EXPECT_EQ(r.per_class.at(12).gt, 0);
  EXPECT_EQ(r.per_class.at(12).pred, 1);
}

TEST(IdMetrics, MaxWeightMatchingEqualsBruteForce) {
  uint64_t seed = 12345;
  auto next = [&] { return int64_t((seed = seed * 6364136223846793005ull + 1442695040888963407ull) >> 59); };
  for (size_t rows : {1u, 3u, 5u})
    for (size_t cols : {1u, 4u, 5u}) {
      std::vector<std::vector<int64_t>> w(rows, std::vector<int64_t>(cols));
      for (auto& r : w)
        for (auto& x : r) x = next();
      // brute force over every assignment of the smaller side into the larger
      size_t n = std::min(rows, cols), m = std::max(rows, cols);
      std::vector<size_t> perm(m);
      std::iota(perm.begin(), perm.end(), 0);
      int64_t best = 0;
      do {
        int64_t s = 0;
        for (size_t i = 0; i < n; ++i) s += rows <= cols ? w[i][perm[i]] : w[perm[i]][i];
        best = std::max(best, s);
      } while (std::next_permutation(perm.begin(), perm.end()));
      EXPECT_EQ(max_weight_matching(w), best) << rows << "x" << cols;
    }
  EXPECT_EQ(max_weight_matching({}), 0);
}
