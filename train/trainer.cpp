#include "train/trainer.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "data/fs_util.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::train {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
// Stream k of a run seeded `seed`: stream 0 is the seed itself (a single-process run is unchanged).
Generator stream(uint64_t seed, int64_t k) { return Generator(seed + uint64_t(k) * 0x9E3779B97F4A7C15ull); }
}  // namespace

Trainer::Trainer(std::shared_ptr<models::Model> model, const TrainerOptions& options)
    : model_(std::move(model)), opt_(options), sgd_(model_->named_parameters(), options.sgd), seed_(options.seed) {
  VPS_CHECK(opt_.max_iters >= 0 && opt_.checkpoint_every >= 0, "Trainer: max_iters (", opt_.max_iters,
            ") and checkpoint_every (", opt_.checkpoint_every, ") must be non-negative");
  VPS_CHECK(opt_.accumulate >= 1 && opt_.accumulate <= 4096, "Trainer: accumulate (", opt_.accumulate,
            ") must be in 1..4096");
  if (!opt_.comm) single_ = make_communicator("none", LaunchInfo{}, 1);
  comm_ = opt_.comm ? opt_.comm : single_.get();
  for (int64_t j = 0; j < opt_.accumulate; ++j) gens_.push_back(stream(opt_.seed, rank() * opt_.accumulate + j));
  std::vector<Tensor> state;
  for (auto& [name, t] : model_->state_dict()) state.push_back(t);
  broadcast_tensors(*comm_, state, 0, opt_.bucket_bytes);  // one replica: rank 0's initialisation
  model_->train();
}

int64_t Trainer::sample_index(int64_t step, int64_t j) const {
  return (step * world() + rank()) * opt_.accumulate + j;
}

int64_t Trainer::next_sample_index(int64_t index) const {
  return index % opt_.accumulate < opt_.accumulate - 1 ? index + 1 : index + (world() - 1) * opt_.accumulate + 1;
}

StepRecord Trainer::step(const models::Batch& batch) { return step(std::vector<models::Batch>{batch}); }

StepRecord Trainer::step(const std::vector<models::Batch>& micro_batches) {
  VPS_CHECK(int64_t(micro_batches.size()) == opt_.accumulate, "Trainer::step: ", micro_batches.size(),
            " micro-batches, accumulate is ", opt_.accumulate);
  auto t0 = std::chrono::steady_clock::now();
  sgd_.zero_grad();
  StepRecord r;
  // With several micro-batches each one's gradient is complete before it is added to the others':
  // ((g0 + g1) + g2) ..., as an allreduce over ranks adds them, not term by term into .grad (which
  // would round differently from a data-parallel run).
  std::vector<Tensor> params = model_->parameters(), sum(params.size());
  for (size_t j = 0; j < micro_batches.size(); ++j) {
    models::LossMap losses = model_->forward_train(micro_batches[j], gens_[j]);
    Tensor total = models::Model::total_loss(losses);
    // A NaN or infinite loss stops the run before the update: the parameters and the last checkpoint
    // stay as they were, and the message names the step and the term.
    for (auto& [k, v] : losses) {
      double x = v.item_double();
      VPS_CHECK(std::isfinite(x), "training stopped at iteration ", iteration_ + 1, ": ", k, " is ", x,
                world() > 1 ? " on rank " + std::to_string(rank()) : std::string(),
                opt_.out_dir.empty() ? std::string() : last_checkpoint_note());
      r.values[k] += x;
    }
    total.backward();
    r.total_loss += total.item_double();
    if (micro_batches.size() == 1) continue;
    autograd::NoGradGuard ng;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor g = params[i].grad();
      if (!g.defined()) continue;
      sum[i] = sum[i].defined() ? add(sum[i], g) : g;
      params[i].zero_grad();
    }
  }
  for (size_t i = 0; i < params.size() && micro_batches.size() > 1; ++i)
    if (sum[i].defined()) params[i].set_grad(sum[i]);
  average_gradients(r.values, r.total_loss);
  GradNorms norms = grad_norms_by_module(model_->named_parameters());
  r.grad_norm = norms.total;
  r.grad_norms = std::move(norms.by_module);
  // A non-finite gradient (a finite loss can still overflow in backward) is never applied.
  VPS_CHECK(std::isfinite(r.grad_norm), "training stopped at iteration ", iteration_ + 1, ": the gradient norm is ",
            r.grad_norm, opt_.out_dir.empty() ? std::string() : last_checkpoint_note());
  if (opt_.clip_grad_norm > 0) clip_grads_to(model_->parameters(), opt_.clip_grad_norm, r.grad_norm);
  r.lr = opt_.schedule.lr_at(iteration_);
  sgd_.set_lr(r.lr);
  sgd_.step();
  r.iteration = ++iteration_;
  r.step_seconds = seconds_since(t0);
  return r;
}

// Sums the gradients (and the logged loss values) over the ranks and divides by all micro-batches of
// the step. A parameter without a gradient on some rank counts as zero there; one without a gradient
// on every rank keeps none (SGD skips it, as in one process).
void Trainer::average_gradients(std::map<std::string, double>& values, double& total) {
  const double scale = 1.0 / double(world() * opt_.accumulate);
  if (world() == 1 && opt_.accumulate == 1) return;  // nothing to sum or divide: bit-identical to before
  std::vector<Tensor> params = model_->parameters(), grads;
  Tensor stats = Tensor::zeros({int64_t(params.size() + values.size() + 1)}, DType::f64);
  double* st = stats.data<double>();
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor g = params[i].grad();
    st[i] = g.defined() ? 1 : 0;
    grads.push_back(g.defined() ? g : Tensor::zeros(params[i].shape(), params[i].dtype(), params[i].device()));
  }
  size_t k = params.size();
  for (auto& [name, v] : values) st[k++] = v;
  st[k] = total;
  if (world() > 1) comm_->barrier("gradient averaging of step " + std::to_string(iteration_ + 1));
  Tensor stats_dev = stats.to(grads.empty() ? kCPU : grads[0].device());
  grads.push_back(stats_dev);
  allreduce_scaled(*comm_, grads, scale, opt_.bucket_bytes);
  stats = stats_dev.cpu();
  st = stats.data<double>();
  for (size_t i = 0; i < params.size(); ++i) {
    if (st[i] == 0) params[i].zero_grad();
    else if (!params[i].grad().defined()) params[i].set_grad(grads[i]);
  }
  k = params.size();
  for (auto& [name, v] : values) v = st[k++];
  total = st[k];
}

// Names the checkpoint a rerun would resume from, or says that none was written yet.
std::string Trainer::last_checkpoint_note() const {
  if (data::path_exists(checkpoint_path())) return " (the last good checkpoint is " + checkpoint_path() + ")";
  return " (no checkpoint was written yet)";
}

std::string Trainer::checkpoint_path() const { return data::join_path(opt_.out_dir, "checkpoint.safetensors"); }

void Trainer::run(const SampleFn& samples, const std::function<void(const StepRecord&)>& on_step) {
  std::unique_ptr<JsonlLog> log;
  if (!opt_.out_dir.empty() && rank() == 0) {
    data::make_dirs(opt_.out_dir);
    std::string path = data::join_path(opt_.out_dir, "log.jsonl");
    truncate_log_after(path, iteration_);  // a resumed run redoes the steps after its checkpoint
    log = std::make_unique<JsonlLog>(path);
  }
  while (iteration_ < opt_.max_iters) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<models::Batch> micro;
    for (int64_t j = 0; j < opt_.accumulate; ++j) micro.push_back(samples(sample_index(iteration_, j)));
    double data_s = seconds_since(t0);
    StepRecord r = step(micro);
    r.data_seconds = data_s;
    if (log) log->write(r);
    bool last = iteration_ == opt_.max_iters;
    if (!opt_.out_dir.empty() && (last || (opt_.checkpoint_every > 0 && iteration_ % opt_.checkpoint_every == 0)))
      save(checkpoint_path());
    // after the checkpoint: a failing on_step (an --eval-every evaluation) leaves this step resumable
    if (on_step) on_step(r);
  }
}

void Trainer::save(const std::string& path) const {
  // every stream's counter, gathered onto rank 0 (a sum where each rank fills its own slots)
  const int64_t streams = world() * opt_.accumulate;
  Tensor counters = Tensor::zeros({streams}, DType::f64);
  for (int64_t j = 0; j < opt_.accumulate; ++j) {
    VPS_CHECK(gens_[size_t(j)].counter() < (uint64_t(1) << 53), "Trainer::save: random counter beyond 2^53");
    counters.data<double>()[rank() * opt_.accumulate + j] = double(gens_[size_t(j)].counter());
  }
  allreduce_scaled(*comm_, {counters}, 1, opt_.bucket_bytes);
  if (rank() != 0) return;
  CheckpointState s;
  s.iteration = iteration_;
  s.rng_seed = seed_;
  s.rng_counter = gens_[0].counter();
  s.extra = opt_.checkpoint_metadata;
  if (streams > 1) {
    std::string list;
    for (int64_t k = 0; k < streams; ++k) list += (k ? "," : "") + std::to_string(uint64_t(counters.data<double>()[k]));
    s.extra["rng_counters"] = list;  // stream k = rank * accumulate + j
  }
  save_checkpoint(path, *model_, sgd_, s);
}

void Trainer::resume(const std::string& path) {
  CheckpointState s = load_checkpoint(path, *model_, sgd_);
  iteration_ = s.iteration;
  seed_ = s.rng_seed;
  std::vector<uint64_t> counters = {s.rng_counter};
  auto it = s.extra.find("rng_counters");
  if (it != s.extra.end()) {
    counters.clear();
    std::stringstream ss(it->second);
    for (std::string c; std::getline(ss, c, ',');) counters.push_back(std::stoull(c));
  }
  const int64_t streams = world() * opt_.accumulate;
  VPS_CHECK(int64_t(counters.size()) == streams, "checkpoint '", path, "' was written by a run of ", counters.size(),
            " samples per step (ranks x accumulate); this run has ", world(), " x ", opt_.accumulate,
            ": resume with the same product");
  for (int64_t j = 0; j < opt_.accumulate; ++j) {
    gens_[size_t(j)] = stream(s.rng_seed, rank() * opt_.accumulate + j);
    gens_[size_t(j)].set_counter(counters[size_t(rank() * opt_.accumulate + j)]);
  }
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
  for (auto& [k, v] : r.grad_norms) j["grad_norm." + k] = v;
  j["data_time"] = r.data_seconds;
  j["step_time"] = r.step_seconds;
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) j["max_rss_mb"] = double(ru.ru_maxrss) / 1024.0;  // peak host memory so far
  write(j);
}

void JsonlLog::write(const nlohmann::ordered_json& j) {
  std::string line = j.dump() + "\n";
  VPS_CHECK(std::fwrite(line.data(), 1, line.size(), f_) == line.size() && std::fflush(f_) == 0,
            "cannot write the training log '", path_, "'");
}

}  // namespace vps::train
