// The DCN modules of layers/deform_conv2d.h.
#include "autograd/grad_mode.h"
#include "layers/deform_conv2d.h"
#include "tensor/check.h"

namespace vps::nn {

DeformConv2d::DeformConv2d(const ConvOptions& o, int64_t deformable_groups, Generator& gen) : options(o) {
  VPS_CHECK(!o.bias, "DeformConv2d: mmdetection's DeformConv has no bias (ConvOptions::bias must be false)");
  check_conv_options("DeformConv2d", o);
  VPS_CHECK(deformable_groups > 0 && o.in_channels % deformable_groups == 0, "DeformConv2d: deformable_groups=",
            deformable_groups, " must divide in_channels ", o.in_channels);
  params.stride = o.stride, params.padding = o.padding, params.dilation = o.dilation;
  params.groups = o.groups, params.deformable_groups = deformable_groups;
  Tensor no_bias;
  init_conv_uniform(weight, no_bias, {o.out_channels, o.in_channels / o.groups, o.kernel[0], o.kernel[1]},
                    o.out_channels, o, gen);  // mmdet's DeformConv init: the same U(+-1/sqrt(fan_in))
  register_parameter("weight", &weight);
}

Tensor DeformConv2d::forward(const Tensor& x, const Tensor& offset) const {
  return deform_conv2d(x, offset, weight, params);
}

DeformConvWithOffset::DeformConvWithOffset(const ConvOptions& o, int64_t deformable_groups, Generator& gen) {
  ConvOptions oo = ConvOptions::square(o.in_channels, 2 * deformable_groups * o.kernel[0] * o.kernel[1], 3, 1, 1,
                                       /*bias=*/true, o.dtype);
  oo.device = o.device;
  conv_offset = register_module("conv_offset", std::make_shared<Conv2d>(oo, gen));
  {
    autograd::NoGradGuard ng;  // the wrapper's constructor zero-fills its offset conv
    conv_offset->weight.fill_(0.0);
    conv_offset->bias.fill_(0.0);
  }
  ConvOptions co = o;
  co.bias = false;
  conv = register_module("conv", std::make_shared<DeformConv2d>(co, deformable_groups, gen));
}

Tensor DeformConvWithOffset::forward(const Tensor& x) const { return conv->forward(x, conv_offset->forward(x)); }

}  // namespace vps::nn
