// VPQ against answers worked out by hand (comments give the arithmetic), the official report format,
// the sanity checks, and an end-to-end run on a synthetic set with systematic perturbations.
#include <cstdio>

#include <gtest/gtest.h>

#include "data/fs_util.h"
#include "data/synth.h"
#include "eval/perturb.h"
#include "eval/vpq.h"
#include "tensor/check.h"
#include "tests/temp_dir.h"

using namespace vps::eval;
using vps::data::Category;

namespace {
const std::vector<Category> kCats = {{1, "road", false, {}}, {2, "car", true, {}}, {3, "person", true, {}}};
SegInfo seg(uint32_t id, int cat, int64_t area = 0, int crowd = 0) { return SegInfo{id, cat, crowd, area}; }
// A frame from a string of ids per pixel pair: gt[i], pred[i].
FrameStats frame(const std::vector<uint32_t>& gt, const std::vector<uint32_t>& pred, std::vector<SegInfo> gs,
                 std::vector<SegInfo> ps) {
  for (auto& g : gs) {  // GT json areas = true pixel counts
    g.area = 0;
    for (uint32_t v : gt) g.area += v == g.id;
  }
  return frame_stats(gt, pred, gs, ps, kCats, "test frame");
}
std::vector<uint32_t> fill(std::initializer_list<std::pair<uint32_t, int>> runs) {
  std::vector<uint32_t> v;
  for (auto [id, n] : runs) v.insert(v.end(), size_t(n), id);
  return v;
}
}  // namespace

TEST(Vpq, TubeSplitByIdSwitch) {
  // GT car 7 is 10 px in both frames; the prediction calls it 100 in frame 1 and 200 in frame 2.
  FrameStats f1 = frame(fill({{7, 10}, {0, 6}}), fill({{100, 10}, {0, 6}}), {seg(7, 2)}, {seg(100, 2)});
  FrameStats f2 = frame(fill({{7, 10}, {0, 6}}), fill({{200, 10}, {0, 6}}), {seg(7, 2)}, {seg(200, 2)});
  // k=0: two windows, each a perfect match -> tp 2, iou sum 2.
  CatStats k0 = vpq_video({f1, f2}, 1);
  EXPECT_EQ(k0[2].tp, 2);
  EXPECT_DOUBLE_EQ(k0[2].iou, 2.0);
  // k=5: one window; tube 7 has 20 px, tube 100 has 10 px inside it: IoU = 10 / (10 + 20 - 10) = 0.5,
  // not > 0.5, so no match: FN 1 (tube 7), FP 2 (tubes 100 and 200).
  CatStats k5 = vpq_video({f1, f2}, 2);
  EXPECT_EQ(k5[2].tp, 0);
  EXPECT_EQ(k5[2].fn, 1);
  EXPECT_EQ(k5[2].fp, 2);
  EXPECT_DOUBLE_EQ(pq_average(k5, kCats, 0).pq, 0.0);
  EXPECT_EQ(pq_average(k5, kCats, 0).n, 1);
}

TEST(Vpq, IouExactlyHalfIsNotAMatchAndJustAboveIs) {
  // GT 20 px, prediction 10 px inside it: IoU 10/20 = 0.5 -> FN 1, FP 1.
  CatStats s = vpq_video({frame(fill({{5, 20}}), fill({{9, 10}, {0, 10}}), {seg(5, 2)}, {seg(9, 2)})}, 1);
  EXPECT_EQ(s[2].tp, 0);
  EXPECT_EQ(s[2].fn, 1);
  EXPECT_EQ(s[2].fp, 1);
  // 11 px inside: IoU 11/20 = 0.55 -> TP; PQ = 0.55 / (1 + 0 + 0) = 0.55.
  CatStats t = vpq_video({frame(fill({{5, 20}}), fill({{9, 11}, {0, 9}}), {seg(5, 2)}, {seg(9, 2)})}, 1);
  EXPECT_EQ(t[2].tp, 1);
  EXPECT_DOUBLE_EQ(t[2].iou, 0.55);
  EXPECT_DOUBLE_EQ(pq_average(t, kCats, 1).pq, 0.55);
}

TEST(Vpq, PredictionOnVoidIsRemovedFromTheUnion) {
  // GT car 10 px + 6 void px; the prediction covers all 16: union = 16 + 10 - 10 - 6 = 10 -> IoU 1.
  CatStats s = vpq_video({frame(fill({{5, 10}, {0, 6}}), fill({{9, 16}}), {seg(5, 2)}, {seg(9, 2)})}, 1);
  EXPECT_EQ(s[2].tp, 1);
  EXPECT_DOUBLE_EQ(s[2].iou, 1.0);
  // A prediction lying mostly on void (4 of 6 px) and unmatched is not a false positive; 3 of 6 is.
  CatStats a = vpq_video({frame(fill({{0, 4}, {1, 2}}), fill({{9, 6}}), {seg(1, 1)}, {seg(9, 2)})}, 1);
  EXPECT_EQ(a[2].fp, 0);
  EXPECT_EQ(a[1].fn, 1);
  CatStats b = vpq_video({frame(fill({{0, 3}, {1, 3}}), fill({{9, 6}}), {seg(1, 1)}, {seg(9, 2)})}, 1);
  EXPECT_EQ(b[2].fp, 1);  // 3/6 = 0.5 is not > 0.5
}

TEST(Vpq, CrowdRegion) {
  // GT: person crowd 50 (8 px, iscrowd) and road 1 (8 px). Predictions: person 9 on the crowd
  // (ignored: 8/8 px on crowd of its own class) and car 10 on the crowd (counted: crowd is person).
  FrameStats f = frame(fill({{50, 8}, {1, 8}}), fill({{9, 4}, {10, 4}, {1, 8}}), {seg(50, 3, 0, 1), seg(1, 1)},
                       {seg(9, 3), seg(10, 2), seg(1, 1)});
  CatStats s = vpq_video({f}, 1);
  EXPECT_EQ(s[3].fp, 0);
  EXPECT_EQ(s[3].fn, 0);  // crowd is never a false negative
  EXPECT_EQ(s[3].tp, 0);  // nor matched
  EXPECT_EQ(s[2].fp, 1);
  EXPECT_EQ(s[1].tp, 1);
  // Person has TP+FP+FN = 0, so it is excluded: All averages road (1.0) and car (0.0) -> 0.5.
  PqAverage all = pq_average(s, kCats, 0);
  EXPECT_EQ(all.n, 2);
  EXPECT_DOUBLE_EQ(all.pq, 0.5);
}

TEST(Vpq, CategoryPresentInOneFrameOnly) {
  // Road everywhere; a car (id 5, 4 px) only in frame 2, predicted perfectly.
  FrameStats f1 = frame(fill({{1, 8}}), fill({{1, 8}}), {seg(1, 1)}, {seg(1, 1)});
  FrameStats f2 = frame(fill({{1, 4}, {5, 4}}), fill({{1, 4}, {5, 4}}), {seg(1, 1), seg(5, 2)}, {seg(1, 1), seg(5, 2)});
  CatStats k0 = vpq_video({f1, f2}, 1), k5 = vpq_video({f1, f2}, 2);
  EXPECT_EQ(k0[2].tp, 1);  // only the window holding frame 2
  EXPECT_EQ(k0[1].tp, 2);
  EXPECT_EQ(k5[2].tp, 1);  // one 2-frame tube, present in one of its frames
  EXPECT_EQ(k5[1].tp, 1);
  EXPECT_DOUBLE_EQ(pq_average(k5, kCats, 0).pq, 1.0);
  EXPECT_EQ(pq_average(k5, kCats, 2).n, 1);
}

TEST(Vpq, EmptyPredictions) {
  // Everything predicted void: every GT segment is a FN, nothing else counts; PQ 0 over 2 classes.
  FrameStats f = frame(fill({{1, 8}, {5, 4}}), fill({{0, 12}}), {seg(1, 1), seg(5, 2)}, {});
  CatStats s = vpq_video({f, f}, 2);
  EXPECT_EQ(s[1].fn, 1);
  EXPECT_EQ(s[2].fn, 1);
  EXPECT_EQ(s[1].fp + s[2].fp + s[1].tp + s[2].tp, 0);
  PqAverage a = pq_average(s, kCats, 0);
  EXPECT_EQ(a.n, 2);
  EXPECT_DOUBLE_EQ(a.pq, 0.0);
}

TEST(Vpq, SanityChecksAreClearErrors) {
  std::vector<uint32_t> gt = fill({{1, 4}}), pred = fill({{9, 4}});
  auto msg = [&](std::vector<SegInfo> ps) {
    try {
      frame_stats(gt, pred, {seg(1, 1, 4)}, ps, kCats, "image X");
    } catch (const vps::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg({}).find("present in the PNG and not in the JSON"), std::string::npos);
  EXPECT_NE(msg({seg(9, 2), seg(8, 2)}).find("[8] are present in the JSON and not in the PNG"), std::string::npos);
  EXPECT_NE(msg({seg(9, 77)}).find("unknown category_id 77"), std::string::npos);
  EXPECT_NE(msg({seg(9, 77)}).find("image X"), std::string::npos);
}

TEST(Vpq, ArraySplitMatchesNumpy) {
  auto s = array_split(13, 2);  // numpy: [0..6], [7..12]
  EXPECT_EQ(s[0], (std::pair<size_t, size_t>{0, 7}));
  EXPECT_EQ(s[1], (std::pair<size_t, size_t>{7, 13}));
}

TEST(Vpq, ReportTextMatchesTheOfficialFormat) {
  VpqWindow w;
  w.stats[0] = ClassStat{23.976, 24, 0, 0};  // PQ 99.9, SQ 99.9, RQ 100.0, IoU sum 24.0
  std::vector<Category> cats = {{0, "road", false, {}}, {1, "car", true, {}}};
  w.all = pq_average(w.stats, cats, 0);
  w.things = pq_average(w.stats, cats, 1);
  w.stuff = pq_average(w.stats, cats, 2);
  std::string t = vpq_window_text(w, cats, -1);
  EXPECT_EQ(t,
            "================================================\n"
            "          |    PQ     SQ     RQ    N\n"
            "--------------------------------------\n"
            "All       |  99.9   99.9  100.0     1\n"
            "Things    |   0.0    0.0    0.0     0\n"
            "Stuff     |  99.9   99.9  100.0     1\n"
            "IDX |    PQ    SQ    RQ    IoU      TP      FP      FN\n"
            "   0 |  99.9  99.9 100.0   24.0      24       0       0\n"
            "   1 |   0.0   0.0   0.0    0.0       0       0       0\n");
}

// End to end on a synthetic val set: GT as prediction gives 100; each perturbation moves the numbers
// the way the definition says.
class VpqSynth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new vps::test::TempDir;
    vps::data::SynthOptions o;
    o.videos = 2;
    o.width = 192;
    o.height = 96;
    o.splits = {"val"};
    o.images = "none";
    o.seed = 3;
    vps::data::write_synthetic_dataset(dir_->path(), o);
  }
  static void TearDownTestSuite() { delete dir_; }
  static VpqResult run(std::vector<Perturb> modes, int percent = 50) {
    std::string gt = *dir_ / "val/panoptic_video", js = *dir_ / "panoptic_gt_val_city_vps.json";
    std::string pred = *dir_ / ("pred" + std::to_string(counter_++));
    PerturbOptions po;
    po.modes = modes;
    po.percent = percent;
    po.radius = 1;
    write_perturbed_prediction(gt, js, pred, po);
    return evaluate_vpq(load_pan_set(pred, gt, js, 6), VpqOptions{});
  }
  static vps::test::TempDir* dir_;
  static int counter_;
};
vps::test::TempDir* VpqSynth::dir_ = nullptr;
int VpqSynth::counter_ = 0;

TEST_F(VpqSynth, GroundTruthScores100AndReportsAreWritten) {
  VpqResult r = run({Perturb::kNone});
  EXPECT_DOUBLE_EQ(r.final_all, 100.0);
  EXPECT_DOUBLE_EQ(r.final_thing, 100.0);
  EXPECT_DOUBLE_EQ(r.final_stuff, 100.0);
  write_vpq_reports(r, *dir_ / "out");
  for (const char* f : {"vpq-0.txt", "vpq-5.txt", "vpq-10.txt", "vpq-15.txt", "vpq-final.txt", "vpq.json"})
    EXPECT_TRUE(vps::data::path_exists(*dir_ / (std::string("out/") + f))) << f;
  auto b = vps::data::read_file_bytes(*dir_ / "out/vpq-final.txt");
  EXPECT_EQ(std::string(b.begin(), b.end()), "vpq_all:100.0000\nvpq_thing:100.0000\nvpq_stuff:100.0000\n");
}

TEST_F(VpqSynth, PerturbationsMoveTheRightNumbers) {
  VpqResult drop = run({Perturb::kDrop});
  EXPECT_LT(drop.final_thing, 100.0);
  EXPECT_DOUBLE_EQ(drop.final_stuff, 100.0);
  for (const auto& w : drop.windows) EXPECT_DOUBLE_EQ(w.things.sq, 1.0);  // what is kept is perfect: only RQ drops
  VpqResult swap = run({Perturb::kSwap}, 100);
  EXPECT_DOUBLE_EQ(100 * swap.windows[0].all.pq, 100.0);  // k=0 cannot see an id switch
  EXPECT_LT(swap.windows[3].things.pq, swap.windows[1].things.pq + 1e-12);
  EXPECT_LT(swap.windows[1].things.pq, 1.0);
  EXPECT_DOUBLE_EQ(swap.final_stuff, 100.0);
  VpqResult erode = run({Perturb::kErode});
  EXPECT_LT(erode.windows[0].things.sq, 1.0);  // eroded masks lower the segmentation quality
  EXPECT_DOUBLE_EQ(erode.final_stuff, 100.0);
  VpqResult cls = run({Perturb::kClass});
  EXPECT_LT(cls.final_thing, drop.final_thing + 1e-9);  // a wrong class costs an FN and an FP
  VpqResult merge = run({Perturb::kMerge}, 100);
  EXPECT_LT(merge.final_thing, 100.0);
  EXPECT_DOUBLE_EQ(merge.final_stuff, 100.0);
}

TEST_F(VpqSynth, MissingPredictionFileIsAnError) {
  std::string gt = *dir_ / "val/panoptic_video", js = *dir_ / "panoptic_gt_val_city_vps.json";
  std::string pred = *dir_ / "predx";
  write_perturbed_prediction(gt, js, pred, PerturbOptions{});
  auto files = vps::data::list_files(pred + "/pan_pred", ".png");
  std::remove((pred + "/pan_pred/" + files[3]).c_str());
  try {
    evaluate_vpq(load_pan_set(pred, gt, js, 6), VpqOptions{});
    FAIL() << "expected an error";
  } catch (const vps::Error& e) {
    EXPECT_NE(std::string(e.what()).find(files[3]), std::string::npos) << e.what();
  }
}
