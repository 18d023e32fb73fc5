// SGD with momentum (PyTorch's formulation), global gradient-norm clipping and mmcv-style LR schedules:
// the optimizer side of the trainer (train/trainer.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "layers/module.h"

namespace vps::train {

struct SGDOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};

// For each parameter with a gradient: g += wd * p; buf = momentum * buf + (1 - dampening) * g (first
// step: buf = g); g = nesterov ? g + momentum * buf : buf; p -= lr * g. Parameters are held by handle:
// build the optimizer after Module::to(device).
class SGD {
 public:
  SGD(const nn::NamedTensors& params, const SGDOptions& options);
  void step();        // under no-grad; skips parameters without .grad; iteration += 1
  void zero_grad();   // drops every parameter's .grad
  double lr() const { return opt_.lr; }
  void set_lr(double lr) { opt_.lr = lr; }
  int64_t iteration() const { return iteration_; }
  const SGDOptions& options() const { return opt_; }

  // {"momentum_buffer.<param name>": buf (param's dtype/device), ..., "iteration": i64 scalar (CPU)}.
  std::map<std::string, Tensor> state_dict() const;
  // Restores buffers (copied to each parameter's device) and the iteration; unknown names are an error.
  void load_state_dict(const std::map<std::string, Tensor>& sd);

 private:
  nn::NamedTensors params_;
  std::vector<Tensor> bufs_;  // undefined until the first step that saw a gradient
  SGDOptions opt_;
  int64_t iteration_ = 0;
};

// Scales every defined .grad by max_norm / (total + 1e-6) when that is below 1, where total is the L2
// norm of all gradients together. Returns total (before clipping).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);
// The same with the total norm given (computed once for the log by grad_norms_by_module).
void clip_grads_to(const std::vector<Tensor>& params, double max_norm, double total);

// L2 norm of all gradients together and of each top-level module's (the first component of a
// parameter's name: backbone, neck, rpn_head, ..., track_head). Each loss reaches the parameters through
// its own head first, so a spike shows where it came from.
struct GradNorms {
  double total = 0;
  std::map<std::string, double> by_module;
};
GradNorms grad_norms_by_module(const std::vector<std::pair<std::string, Tensor>>& named);

// mmcv's step policy with linear warmup: regular = base_lr * gamma^(number of steps <= it);
// for it < warmup_iters: regular * (warmup_ratio + (1 - warmup_ratio) * it / warmup_iters).
struct LrSchedule {
  double base_lr = 0.01;
  int64_t warmup_iters = 0;
  double warmup_ratio = 1.0 / 3;
  std::vector<int64_t> steps;  // iterations at which lr is multiplied by gamma
  double gamma = 0.1;
  double lr_at(int64_t it) const;
};

}  // namespace vps::train
