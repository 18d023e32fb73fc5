// Parameter initialisers with PyTorch's definitions (torch.nn.init), drawing from a seeded Generator.
// Each fills `t` in place (no autograd, whatever its requires_grad), keeping its dtype and device.
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace vps::nn::init {

enum class FanMode { fan_in, fan_out };

// fan_in = size(1) * prod(size(2:)), fan_out = size(0) * prod(size(2:)); needs dim >= 2.
int64_t fan_in(const Tensor& t);
int64_t fan_out(const Tensor& t);
// linear/conv*/sigmoid: 1, tanh: 5/3, relu: sqrt(2), leaky_relu: sqrt(2 / (1 + a^2)), selu: 3/4.
double calculate_gain(const std::string& nonlinearity, double a = 0.01);

// U(-b, b), b = sqrt(3) * gain / sqrt(fan). PyTorch's default a = 0, nonlinearity leaky_relu.
void kaiming_uniform_(Tensor& t, Generator& gen, double a = 0, FanMode mode = FanMode::fan_in,
                      const std::string& nonlinearity = "leaky_relu");
// N(0, gain / sqrt(fan)).
void kaiming_normal_(Tensor& t, Generator& gen, double a = 0, FanMode mode = FanMode::fan_in,
                     const std::string& nonlinearity = "leaky_relu");
// U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)).
void xavier_uniform_(Tensor& t, Generator& gen, double gain = 1);
void uniform_(Tensor& t, Generator& gen, double lo = 0, double hi = 1);
void normal_(Tensor& t, Generator& gen, double mean = 0, double std = 1);
void constant_(Tensor& t, double value);

}  // namespace vps::nn::init
