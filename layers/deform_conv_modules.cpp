// The DCN modules of layers/deform_conv2d.h.
#include <cmath>

#include "autograd/grad_mode.h"
#include "layers/deform_conv2d.h"
#include "tensor/check.h"

namespace vps::nn {

DeformConv2d::DeformConv2d(const ConvOptions& o, int64_t deformable_groups, Generator& gen) : options(o) {
  VPS_CHECK(!o.bias, "DeformConv2d: mmdetection's DeformConv has no bias (ConvOptions::bias must be false)");
  VPS_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.groups > 0 && o.in_channels % o.groups == 0 &&
                o.out_channels % o.groups == 0 && deformable_groups > 0 && o.in_channels % deformable_groups == 0,
            "DeformConv2d: groups=", o.groups, " and deformable_groups=", deformable_groups,
            " must divide in_channels ", o.in_channels, " (groups also out_channels ", o.out_channels, ")");
  VPS_CHECK(o.kernel[0] > 0 && o.kernel[1] > 0, "DeformConv2d: kernel size must be positive");
  params.stride = o.stride, params.padding = o.padding, params.dilation = o.dilation;
  params.groups = o.groups, params.deformable_groups = deformable_groups;
  double bound = 1.0 / std::sqrt(double(o.in_channels / o.groups * o.kernel[0] * o.kernel[1]));
  weight = uniform({o.out_channels, o.in_channels / o.groups, o.kernel[0], o.kernel[1]}, -bound, bound, gen, o.dtype,
                   o.device);
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
