// The training loop's one step and its bookkeeping, for any models::Model:
//   step = zero grads, forward_train, total loss (entries named *loss*), backward, gradient clipping,
//          learning rate from the schedule, SGD step.
// run() repeats it over a sample source, writes a JSON-lines log (one object per step: every loss
// term, lr, grad norm, data and step time) and checkpoints every N steps and at the end; resume()
// continues from a checkpoint with the same parameters, optimizer state and random stream, so an
// interrupted and resumed run reaches the same parameters as an uninterrupted one.
// Data-parallel (docs/distributed.md): with a communicator of W ranks and `accumulate` = A micro-batches
// per rank, step s of rank r runs samples (s * W + r) * A + j, j < A, each with random stream r * A + j;
// their gradients are summed, summed over the ranks and divided by W * A: the same update as one
// process accumulating W * A samples. Rank 0 writes the log and the checkpoints.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "models/model.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/sgd.h"

namespace vps::train {

struct TrainerOptions {
  SGDOptions sgd{0.01, 0.9, 0, 1e-4, false};
  LrSchedule schedule;        // its base_lr overrides sgd.lr
  double clip_grad_norm = 0;  // > 0: clip the global L2 norm of all gradients to this
  int64_t max_iters = 1;
  int64_t checkpoint_every = 0;  // > 0: RUN/checkpoint.safetensors every N steps (and always at the end)
  uint64_t seed = 0;             // the sampling generator passed to forward_train
  std::string out_dir;           // where run() writes log.jsonl and checkpoints (empty: nowhere)
  std::map<std::string, std::string> checkpoint_metadata;  // copied into every checkpoint
  int64_t accumulate = 1;           // micro-batches per step and rank (gradient accumulation)
  Communicator* comm = nullptr;     // the ranks of a data-parallel run (null: this process alone)
  size_t bucket_bytes = kDefaultBucketBytes;  // gradient buckets of the allreduce
};

struct StepRecord {
  int64_t iteration = 0;  // 1-based: the step just completed
  double lr = 0, total_loss = 0, grad_norm = 0, data_seconds = 0, step_seconds = 0;
  std::map<std::string, double> values;  // every entry forward_train returned
  std::map<std::string, double> grad_norms;  // per top-level module (grad_norms_by_module), before clipping
};

// Source of training samples: the sample of a 0-based global sample index (Trainer::sample_index). A
// function of the index alone, so a resumed run sees the samples the uninterrupted one would.
using SampleFn = std::function<models::Batch(int64_t index)>;

class Trainer {
 public:
  Trainer(std::shared_ptr<models::Model> model, const TrainerOptions& options);

  // The constructor broadcasts rank 0's parameters and buffers to every rank (the same replica).
  StepRecord step(const models::Batch& batch);  // accumulate == 1
  StepRecord step(const std::vector<models::Batch>& micro_batches);  // `accumulate` of them
  // The global index of micro-batch j of a step on this rank (see the top of this file).
  int64_t sample_index(int64_t step, int64_t j) const;
  int64_t next_sample_index(int64_t index) const;  // the one this rank takes after `index` (prefetching)
  // Steps from iteration() to max_iters; `on_step` (optional) sees each record (progress output,
  // evaluations) after the step's log line and checkpoint are written.
  void run(const SampleFn& samples, const std::function<void(const StepRecord&)>& on_step = {});

  // Collective when data-parallel (every rank's random streams go into rank 0's file).
  void save(const std::string& path) const;
  void resume(const std::string& path);  // every rank reads the same file
  std::string checkpoint_path() const;  // <out_dir>/checkpoint.safetensors
  std::string last_checkpoint_note() const;  // " (the last good checkpoint is ...)" or " (no checkpoint ...)"

  int64_t iteration() const { return iteration_; }
  models::Model& model() { return *model_; }
  const SGD& optimizer() const { return sgd_; }
  Generator& generator() { return gens_[0]; }
  int rank() const { return comm_->rank(); }
  int world() const { return comm_->size(); }

 private:
  void average_gradients(std::map<std::string, double>& values, double& total);

  std::shared_ptr<models::Model> model_;
  TrainerOptions opt_;
  SGD sgd_;
  std::unique_ptr<Communicator> single_;  // when opt_.comm is null
  Communicator* comm_;
  uint64_t seed_;                         // of stream 0 (the checkpoint's after a resume)
  std::vector<Generator> gens_;           // this rank's streams, one per micro-batch
  int64_t iteration_ = 0;
};

// Drops the lines of a JSON-lines log whose "iter" is above `iteration` (and any torn last line).
void truncate_log_after(const std::string& path, int64_t iteration);

// One JSON object per line, appended and flushed per record, so that a crash loses at most the line
// being written and a resumed run continues the same file.
class JsonlLog {
 public:
  explicit JsonlLog(const std::string& path);
  ~JsonlLog();
  JsonlLog(const JsonlLog&) = delete;
  JsonlLog& operator=(const JsonlLog&) = delete;
  void write(const StepRecord& r);
  void write(const nlohmann::ordered_json& line);

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace vps::train
