#include "train/trainer.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::train {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Trainer::Trainer(std::shared_ptr<models::Model> model, const TrainerOptions& options)
    : model_(std::move(model)), opt_(options), sgd_(model_->named_parameters(), options.sgd), gen_(options.seed) {
  VPS_CHECK(opt_.max_iters >= 0 && opt_.checkpoint_every >= 0, "Trainer: max_iters (", opt_.max_iters,
            ") and checkpoint_every (", opt_.checkpoint_every, ") must be non-negative");
  model_->train();
}

StepRecord Trainer::step(const models::Batch& batch) {
  auto t0 = std::chrono::steady_clock::now();
  sgd_.zero_grad();
  models::LossMap losses = model_->forward_train(batch, gen_);
  Tensor total = models::Model::total_loss(losses);
  // A NaN or infinite loss stops the run before the update: the parameters and the last checkpoint
  // stay as they were, and the message names the step and the term.
  for (auto& [k, v] : losses) {
    double x = v.item_double();
    VPS_CHECK(std::isfinite(x), "training stopped at iteration ", iteration_ + 1, ": ", k, " is ", x,
              opt_.out_dir.empty() ? std::string() : " (the last good checkpoint is " + checkpoint_path() + ")");
  }
  total.backward();
  StepRecord r;
  r.grad_norm = opt_.clip_grad_norm > 0 ? clip_grad_norm(model_->parameters(), opt_.clip_grad_norm) : 0;
  r.lr = opt_.schedule.lr_at(iteration_);
  sgd_.set_lr(r.lr);
  sgd_.step();
  r.iteration = ++iteration_;
  r.total_loss = total.item_double();
  for (auto& [k, v] : losses) r.values[k] = v.item_double();
  r.step_seconds = seconds_since(t0);
  return r;
}

std::string Trainer::checkpoint_path() const { return data::join_path(opt_.out_dir, "checkpoint.safetensors"); }

void Trainer::run(const SampleFn& samples, const std::function<void(const StepRecord&)>& on_step) {
  std::unique_ptr<JsonlLog> log;
  if (!opt_.out_dir.empty()) {
    data::make_dirs(opt_.out_dir);
    std::string path = data::join_path(opt_.out_dir, "log.jsonl");
    truncate_log_after(path, iteration_);  // a resumed run redoes the steps after its checkpoint
    log = std::make_unique<JsonlLog>(path);
  }
  while (iteration_ < opt_.max_iters) {
    auto t0 = std::chrono::steady_clock::now();
    models::Batch b = samples(iteration_);
    double data_s = seconds_since(t0);
    StepRecord r = step(b);
    r.data_seconds = data_s;
    if (log) log->write(r);
    if (on_step) on_step(r);
    bool last = iteration_ == opt_.max_iters;
    if (!opt_.out_dir.empty() && (last || (opt_.checkpoint_every > 0 && iteration_ % opt_.checkpoint_every == 0)))
      save(checkpoint_path());
  }
}

void Trainer::save(const std::string& path) const {
  CheckpointState s;
  s.iteration = iteration_;
  s.rng_seed = gen_.seed();
  s.rng_counter = gen_.counter();
  s.extra = opt_.checkpoint_metadata;
  save_checkpoint(path, *model_, sgd_, s);
}

void Trainer::resume(const std::string& path) {
  CheckpointState s = load_checkpoint(path, *model_, sgd_);
  iteration_ = s.iteration;
  gen_ = Generator(s.rng_seed);
  gen_.set_counter(s.rng_counter);
}

void truncate_log_after(const std::string& path, int64_t iteration) {
  if (!data::path_exists(path)) return;
  std::vector<uint8_t> bytes = data::read_file_bytes(path);
  std::string kept, line;
  bool dropped = false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n') {
      line += char(bytes[i]);
      continue;
    }
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    bool keep = !j.is_discarded() && j.is_object() && j.contains("iter") && j["iter"].is_number_integer() &&
                j["iter"].get<int64_t>() <= iteration;
    if (keep) kept += line + "\n";
    dropped = dropped || !keep;
    line.clear();
  }
  if (dropped || !line.empty()) data::write_file_atomic(path, kept);  // a torn last line goes too
}

JsonlLog::JsonlLog(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "a");
  VPS_CHECK(f_, "cannot open the training log '", path, "' for appending");
}

JsonlLog::~JsonlLog() {
  if (f_) std::fclose(f_);
}

void JsonlLog::write(const StepRecord& r) {
  nlohmann::ordered_json j;
  j["iter"] = r.iteration;
  j["lr"] = r.lr;
  j["loss"] = r.total_loss;
  for (auto& [k, v] : r.values) j[k] = v;
  j["grad_norm"] = r.grad_norm;
  j["data_time"] = r.data_seconds;
  j["step_time"] = r.step_seconds;
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) j["max_rss_mb"] = double(ru.ru_maxrss) / 1024.0;  // peak host memory so far
  std::string line = j.dump() + "\n";
  VPS_CHECK(std::fwrite(line.data(), 1, line.size(), f_) == line.size() && std::fflush(f_) == 0,
            "cannot write the training log '", path_, "'");
}

}  // namespace vps::train
