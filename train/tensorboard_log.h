// What `vps train` writes into its TensorBoard event files (train/event_file.h), rank 0 only, unless the
// train config says "tensorboard": false. Tags:
//   every step:   loss/total, loss/<term> (entries of forward_train named *loss*), train/<entry> (the others:
//                 acc, positive counts), lr, grad_norm/total, grad_norm/<module>, time/data, time/step,
//                 memory/max_rss_mb
//   --eval-every: eval/vpq_k<k>/{all,things,stuff} per window, eval/vpq/{all,things,stuff} (the final
//                 figures), eval/stq, eval/aq, eval/sq_miou, eval/idf1, eval/id_switches, and the image
//                 eval/gt_vs_pred (GT | prediction of the first labelled frames of the split)
// A resumed run first drops the events after its checkpoint from the earlier files (the steps it redoes),
// then writes into a new file: each step is in one file only.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "eval/stq.h"
#include "eval/vpq.h"
#include "train/event_file.h"
#include "train/trainer.h"

namespace vps::train {

std::map<std::string, double> step_scalars(const StepRecord& r);
// The eval/ scalars of a VPQ result and, when given, an STQ result.
std::map<std::string, double> eval_scalars(const eval::VpqResult& vpq, const eval::StqResult* stq);
// GT | prediction of the first `frames` labelled frames of `split`, one under the other, through `vps vis`'s
// rendering (drawn in <work_dir>, which is replaced).
data::Image gt_vs_pred_strip(const std::string& data_root, const std::string& split, const std::string& pred_dir,
                             const std::string& work_dir, int frames);

class TensorBoardLog {
 public:
  // A new event file in run_dir; with resume_iteration > 0 the events after it are dropped first.
  TensorBoardLog(const std::string& run_dir, int64_t resume_iteration);
  void write_step(const StepRecord& r);
  // The figures of an evaluation at `iteration`: VPQ from `vpq`, STQ, AQ and the identities computed here
  // from the prediction in pred_dir, and the GT | prediction strip.
  void write_eval(int64_t iteration, const eval::VpqResult& vpq, const std::string& data_root, const std::string& split,
                  const std::string& pred_dir);
  const std::string& path() const { return writer_->path(); }

 private:
  std::string run_dir_;
  std::unique_ptr<EventFileWriter> writer_;
};

}  // namespace vps::train
