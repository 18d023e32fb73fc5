#include "layers/init.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::nn::init {

namespace {

int64_t receptive(const Tensor& t, const char* op) {
  VPS_CHECK(t.defined() && t.dim() >= 2, op, ": fan in/out needs a tensor with at least 2 dims, got ",
            t.defined() ? shape_str(t.shape()) : "undefined");
  int64_t r = 1;
  for (int64_t d = 2; d < t.dim(); ++d) r *= t.size(d);
  return r;
}

// Copies `values` (host f64 of t's shape) into t without recording autograd.
void assign(Tensor& t, const Tensor& values) {
  autograd::NoGradGuard ng;
  t.copy_(values);
}

double kaiming_std(const Tensor& t, double a, FanMode mode, const std::string& nl) {
  int64_t fan = mode == FanMode::fan_in ? fan_in(t) : fan_out(t);
  VPS_CHECK(fan > 0, "kaiming init: zero fan for tensor ", shape_str(t.shape()));
  return calculate_gain(nl, a) / std::sqrt(double(fan));
}

}  // namespace

int64_t fan_in(const Tensor& t) { return t.size(1) * receptive(t, "fan_in"); }
int64_t fan_out(const Tensor& t) { return t.size(0) * receptive(t, "fan_out"); }

double calculate_gain(const std::string& nl, double a) {
  if (nl == "linear" || nl == "sigmoid" || nl.rfind("conv", 0) == 0) return 1;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1 + a * a));
  if (nl == "selu") return 3.0 / 4.0;
  VPS_FAIL("calculate_gain: unsupported nonlinearity '", nl, "'");
}

void kaiming_uniform_(Tensor& t, Generator& gen, double a, FanMode mode, const std::string& nl) {
  double b = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  uniform_(t, gen, -b, b);
}

void kaiming_normal_(Tensor& t, Generator& gen, double a, FanMode mode, const std::string& nl) {
  normal_(t, gen, 0, kaiming_std(t, a, mode, nl));
}

void xavier_uniform_(Tensor& t, Generator& gen, double gain) {
  double b = gain * std::sqrt(6.0 / double(fan_in(t) + fan_out(t)));
  uniform_(t, gen, -b, b);
}

void uniform_(Tensor& t, Generator& gen, double lo, double hi) {
  VPS_CHECK(t.defined() && is_floating(t.dtype()), "init::uniform_: needs a defined float tensor");
  assign(t, uniform(t.shape(), lo, hi, gen, DType::f64));
}

void normal_(Tensor& t, Generator& gen, double mean, double std) {
  VPS_CHECK(t.defined() && is_floating(t.dtype()), "init::normal_: needs a defined float tensor");
  Tensor z = randn(t.shape(), gen, DType::f64);  // contiguous, on the host
  double* p = z.data<double>();
  const int64_t n = z.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) p[i] = p[i] * std + mean;
  assign(t, z);
}

void constant_(Tensor& t, double value) {
  VPS_CHECK(t.defined(), "init::constant_: undefined tensor");
  autograd::NoGradGuard ng;
  t.fill_(value);
}

}  // namespace vps::nn::init
