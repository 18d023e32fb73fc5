// Segmentation and Tracking Quality (Weber et al. 2021), following deeplab2's stand-alone numpy
// implementation: SQ = mIoU of one dataset-wide confusion matrix (GT void rows removed), AQ over whole
// sequences (crowd = thing pixels without instance removed from both sides), STQ = sqrt(AQ * SQ).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eval/id_metrics.h"
#include "eval/pan_set.h"

namespace vps::eval {

struct SeqStq {
  std::string id;
  double stq = 0, aq = 0, iou = 0;
  int64_t tubes = 0;
  int frames = 0;
};

struct StqResult {
  double stq = 0, aq = 0, sq = 0;  // sq = mIoU
  double pq = 0, pq_thing = 0, pq_stuff = 0;  // per-frame PQ (window of 1), an extra
  std::vector<double> class_iou;   // per class id (index = category id), -1 when absent
  std::vector<SeqStq> sequences;
  IdResult ids;  // IDF1 and ID switches of the thing tracks (eval/id_metrics.h)
};

// Frame-level labels in STQ terms: semantic class per pixel (ignore = 255) and a track key per pixel
// (0 = no track: stuff, void or crowd). Equal keys in one sequence are the same track.
struct StqFrame {
  std::vector<uint8_t> gt_sem, pred_sem;
  std::vector<uint64_t> gt_track, pred_track;
};

// Accumulates frames sequence by sequence (sequences in first-seen order).
class StqAccumulator {
 public:
  StqAccumulator(int num_classes, std::vector<int> thing_classes);
  void add(const std::string& sequence, const StqFrame& f);
  StqResult result() const;

 private:
  struct Seq {
    std::string id;
    std::vector<int64_t> confusion;  // (C+1)^2, rows GT, columns prediction, index C = ignore
    std::map<uint64_t, int64_t> gt, pred;
    std::map<std::pair<uint64_t, uint64_t>, int64_t> inter;
    int frames = 0;
  };
  int nc_;
  std::vector<bool> is_thing_;
  std::vector<Seq> seqs_;
  std::map<std::string, size_t> index_;
};

// Converts id maps + segments into STQ labels: category per pixel, track key = (category << 32 | segment id)
// for non-crowd thing segments. Ids not in the segment list are void.
StqFrame stq_frame(const std::vector<uint32_t>& gt_ids, const std::vector<uint32_t>& pred_ids,
                   const std::vector<SegInfo>& gt_segs, const std::vector<SegInfo>& pred_segs,
                   const std::vector<data::Category>& cats);

// Whole evaluation: one sequence per video chunk of the set; also per-frame PQ via the VPQ code.
StqResult evaluate_stq(const PanSet& set, int threads);
// Writes stq.json (overall, per sequence, per class IoU).
void write_stq_report(const StqResult& r, const std::string& out_dir);

}  // namespace vps::eval
