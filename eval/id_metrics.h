// Identity figures of a video prediction, MOTS-style: in every labelled frame a GT thing instance and a
// predicted one of the same class match when their mask IoU exceeds 0.5 (so at most one each); then
//  - ID switches: a GT track matched to another predicted track than at its previous match;
//  - IDF1 (Ristani et al. 2016): GT and predicted tracks of one sequence and class paired one to one to
//    maximise the frames they match in (IDTP), IDF1 = 2 IDTP / (GT instances + predicted instances).
// "Found but not tracked" shows as a high match count with a low IDF1 and many switches. Inputs are
// STQ's frame labels (eval/stq.h): the semantic class and the track key of every pixel.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vps::eval {

struct StqFrame;  // eval/stq.h

struct IdStats {
  int64_t gt = 0, pred = 0;   // instances over all frames (non-crowd things)
  int64_t matched = 0;        // frame-level matches (IoU > 0.5, same class)
  int64_t idtp = 0;           // frames matched by the one-to-one track pairing
  int64_t switches = 0;       // ID switches
  double idf1() const { return gt + pred > 0 ? 2.0 * double(idtp) / double(gt + pred) : 0.0; }
  void add(const IdStats& o);
};

struct IdResult {
  IdStats all;                     // every class together
  std::map<int, IdStats> per_class;  // thing class id -> figures
};

// Frames sequence by sequence, in order within a sequence.
class IdAccumulator {
 public:
  void add(const std::string& sequence, const StqFrame& f);
  IdResult result() const;

 private:
  struct Seq {
    std::map<int, IdStats> stats;                              // per class
    std::map<uint64_t, uint64_t> last_match;                   // GT track -> predicted track
    std::map<int, std::map<std::pair<uint64_t, uint64_t>, int64_t>> together;  // class -> (gt, pred) -> frames
  };
  std::map<std::string, Seq> seqs_;
};

// The largest total weight of a one-to-one pairing of rows and columns of w (rows x cols, non-negative).
int64_t max_weight_matching(const std::vector<std::vector<int64_t>>& w);

}  // namespace vps::eval
