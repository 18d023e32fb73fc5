// Modules over the nn ops, with PyTorch's parameter names: BatchNorm2d, GroupNorm, Linear.
#pragma once
#include "layers/module.h"

namespace vps::nn {

// weight (C) = 1, bias (C) = 0, running_mean = 0, running_var = 1, num_batches_tracked (i64 scalar).
// Training (and not frozen): batch statistics, running stats updated, num_batches_tracked += 1.
// Frozen (mmdet's norm_eval + requires_grad=False): always running statistics, no grad on weight/bias,
// whatever train()/eval() says.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1, bool affine = true);
  Tensor forward(const Tensor& x);  // x (N, C, H, W)
  void set_frozen(bool frozen);
  bool frozen() const { return frozen_; }
  // Whether forward normalises by the batch's statistics (training and not frozen), not the running ones.
  bool uses_batch_stats() const { return training_ && !frozen_; }
  std::string type_name() const override { return "BatchNorm2d"; }

  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;

 private:
  bool frozen_ = false;
};

// weight (C) = 1, bias (C) = 0.
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x);
  std::string type_name() const override { return "GroupNorm"; }

  Tensor weight, bias;
  int64_t groups;
  double eps;
};

// y = x W^T + b; weight (out, in) kaiming_uniform(a = sqrt(5)), bias U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
  Tensor forward(const Tensor& x);
  std::string type_name() const override { return "Linear"; }

  Tensor weight, bias;
  MatmulPrecision precision = MatmulPrecision::f32;  // set by Module::set_matmul_precision

 protected:
  void on_matmul_precision(MatmulPrecision p) override { precision = p; }
};

}  // namespace vps::nn
