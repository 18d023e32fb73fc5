#include "layers/norm_modules.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "layers/batch_norm.h"
#include "layers/bf16_inference.h"
#include "layers/group_norm.h"
#include "layers/init.h"
#include "ops/ops.h"

namespace vps::nn {

BatchNorm2d::BatchNorm2d(int64_t channels, double eps_, double momentum_, bool affine) : eps(eps_), momentum(momentum_) {
  VPS_CHECK(channels > 0, "BatchNorm2d: channels must be positive, got ", channels);
  if (affine) {
    weight = Tensor::ones({channels});
    bias = Tensor::zeros({channels});
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
  }
  running_mean = Tensor::zeros({channels});
  running_var = Tensor::ones({channels});
  num_batches_tracked = Tensor::zeros({}, DType::i64);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
  register_buffer("num_batches_tracked", &num_batches_tracked);
}

void BatchNorm2d::set_frozen(bool f) {
  frozen_ = f;
  if (weight.defined()) weight.set_requires_grad(!f);
  if (bias.defined()) bias.set_requires_grad(!f);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  VPS_CHECK(x.dim() == 4, "BatchNorm2d: expected input (N, C, H, W), got ", shape_str(x.shape()));
  bool batch_stats = uses_batch_stats();
  if (batch_stats) {
    autograd::NoGradGuard ng;
    num_batches_tracked.fill_(num_batches_tracked.item_double() + 1);
  }
  return batch_norm(x, weight, bias, running_mean, running_var, batch_stats, momentum, eps);
}

GroupNorm::GroupNorm(int64_t groups_, int64_t channels, double eps_, bool affine) : groups(groups_), eps(eps_) {
  VPS_CHECK(groups > 0 && channels % groups == 0, "GroupNorm: ", channels, " channels are not divisible into ",
            groups, " groups");
  if (affine) {
    weight = Tensor::ones({channels});
    bias = Tensor::zeros({channels});
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
  }
}

Tensor GroupNorm::forward(const Tensor& x) { return group_norm(x, groups, weight, bias, eps); }

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool has_bias) {
  VPS_CHECK(in_features > 0 && out_features > 0, "Linear: features must be positive, got (", in_features, ", ",
            out_features, ")");
  weight = Tensor::empty({out_features, in_features});
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  register_parameter("weight", &weight);
  if (has_bias) {
    double b = 1.0 / std::sqrt(double(in_features));
    bias = Tensor::empty({out_features});
    init::uniform_(bias, gen, -b, b);
    register_parameter("bias", &bias);
  }
}

Tensor Linear::forward(const Tensor& x) {
  return precision == MatmulPrecision::bf16 ? linear_bf16(x, weight, bias) : linear(x, weight, bias);
}

}  // namespace vps::nn
