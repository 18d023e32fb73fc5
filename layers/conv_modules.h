// Conv2d and ConvTranspose2d modules: parameters `weight` and `bias` (PyTorch names and layouts),
// PyTorch's default init: weight kaiming_uniform(a = sqrt(5)) and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
// which both reduce to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.size(1) * kh * kw.
#pragma once
#include "layers/conv2d.h"
#include "layers/conv_transpose2d.h"
#include "layers/module.h"

namespace vps::nn {

struct ConvOptions {
  int64_t in_channels = 0, out_channels = 0;
  Pair kernel{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  Pair output_padding{0, 0};  // ConvTranspose2d only
  int64_t groups = 1;
  bool bias = true;
  ConvAlgo algo = ConvAlgo::automatic;  // Conv2d only: the implementation on CUDA tensors (layers/conv2d.h)
  MatmulPrecision precision = MatmulPrecision::f32;  // Conv2d and DCN: set by Module::set_matmul_precision
  DType dtype = DType::f32;
  Device device = kCPU;

  // A k x k convolution with equal stride and padding on both axes.
  static ConvOptions square(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0,
                            bool bias = true, DType dtype = DType::f32) {
    ConvOptions o;
    o.in_channels = in;
    o.out_channels = out;
    o.kernel = {k, k};
    o.stride = {stride, stride};
    o.padding = {pad, pad};
    o.bias = bias;
    o.dtype = dtype;
    return o;
  }
};

// Shared by the convolution modules (these and the DCN ones, layers/deform_conv2d.h): positive
// channels and kernel, groups dividing both channel counts (the message names `what`); PyTorch's
// default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), of a weight of shape w and, when o.bias, a bias of n.
void check_conv_options(const char* what, const ConvOptions& o);
void init_conv_uniform(Tensor& weight, Tensor& bias, const Shape& w, int64_t n, const ConvOptions& o, Generator& gen);

// weight (out, in/groups, kh, kw), bias (out) unless options.bias is false. forward: conv2d.
class Conv2d : public Module {
 public:
  Conv2d(const ConvOptions& o, Generator& gen);
  Tensor forward(const Tensor& x) const;
  // relu(conv(x)): with bf16 products the ReLU is fused into the convolution's output (layers/conv2d.h
  // ConvEpilogue); otherwise the two ops.
  Tensor forward_relu(const Tensor& x) const;
  std::string type_name() const override { return "Conv2d"; }
  ConvParams params() const;  // the options as conv2d's parameters
  ConvOptions options;
  Tensor weight, bias;

 protected:
  void on_matmul_precision(MatmulPrecision p) override { options.precision = p; }
};

// weight (in, out/groups, kh, kw), bias (out) unless options.bias is false. forward: conv_transpose2d.
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(const ConvOptions& o, Generator& gen);
  Tensor forward(const Tensor& x) const;
  std::string type_name() const override { return "ConvTranspose2d"; }
  ConvOptions options;
  Tensor weight, bias;
};

}  // namespace vps::nn
