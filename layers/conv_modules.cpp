#include "layers/conv_modules.h"

#include <cmath>

namespace vps::nn {
void check_conv_options(const char* what, const ConvOptions& o) {
  VPS_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.groups > 0 && o.in_channels % o.groups == 0 &&
                o.out_channels % o.groups == 0,
            what, ": groups=", o.groups, " must divide in_channels ", o.in_channels, " and out_channels ",
            o.out_channels, " (all positive)");
  VPS_CHECK(o.kernel[0] > 0 && o.kernel[1] > 0, what, ": kernel size must be positive");
}

void init_conv_uniform(Tensor& weight, Tensor& bias, const Shape& w, int64_t n, const ConvOptions& o, Generator& gen) {
  double bound = 1.0 / std::sqrt(double(w[1] * w[2] * w[3]));
  weight = uniform(w, -bound, bound, gen, o.dtype, o.device);
  if (o.bias) bias = uniform({n}, -bound, bound, gen, o.dtype, o.device);
}

Conv2d::Conv2d(const ConvOptions& o, Generator& gen) : options(o) {
  check_conv_options("Conv2d", o);
  init_conv_uniform(weight, bias, {o.out_channels, o.in_channels / o.groups, o.kernel[0], o.kernel[1]}, o.out_channels,
               o, gen);
  register_parameter("weight", &weight);
  if (o.bias) register_parameter("bias", &bias);
}

ConvParams Conv2d::params() const {
  ConvParams p;
  p.stride = options.stride, p.padding = options.padding, p.dilation = options.dilation;
  p.groups = options.groups, p.algo = options.algo, p.precision = options.precision;
  return p;
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight, bias, params()); }

Tensor Conv2d::forward_relu(const Tensor& x) const {
  ConvEpilogue e;
  e.relu = true;
  return conv2d(x, weight, bias, params(), e);
}

ConvTranspose2d::ConvTranspose2d(const ConvOptions& o, Generator& gen) : options(o) {
  check_conv_options("ConvTranspose2d", o);
  init_conv_uniform(weight, bias, {o.in_channels, o.out_channels / o.groups, o.kernel[0], o.kernel[1]}, o.out_channels,
               o, gen);
  register_parameter("weight", &weight);
  if (o.bias) register_parameter("bias", &bias);
}

Tensor ConvTranspose2d::forward(const Tensor& x) const {
  return conv_transpose2d(x, weight, bias, options.stride, options.padding, options.output_padding, options.groups,
                          options.dilation);
}

}  // namespace vps::nn
