#include "models/backbone/fpn.h"

#include "autograd/grad_mode.h"
#include "layers/init.h"
#include "layers/interpolate.h"
#include "layers/pooling.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

std::shared_ptr<nn::ConvModule> make_conv(int64_t in, int64_t out, int64_t k, const FPNOptions& o, Generator& gen) {
  auto conv = std::make_shared<nn::Conv2d>(nn::ConvOptions::square(in, out, k, 1, k / 2, true, o.dtype), gen);
  autograd::NoGradGuard ng;
  nn::init::xavier_uniform_(conv->weight, gen);
  nn::init::constant_(conv->bias, 0);
  return std::make_shared<nn::ConvModule>(conv);
}

}  // namespace

FPN::FPN(const FPNOptions& o) : opt_(o) {
  VPS_CHECK(!o.in_channels.empty() && o.out_channels > 0, "FPN: in_channels must be non-empty and out_channels ",
            "positive, got ", o.in_channels.size(), " inputs and out_channels ", o.out_channels);
  VPS_CHECK(o.num_outs >= int(o.in_channels.size()), "FPN: num_outs ", o.num_outs, " < number of inputs ",
            o.in_channels.size());
  Generator gen(o.seed);
  auto lateral = register_module("lateral_convs", std::make_shared<nn::ModuleList>());
  auto fpn = register_module("fpn_convs", std::make_shared<nn::ModuleList>());
  for (int64_t cin : o.in_channels) {
    VPS_CHECK(cin > 0, "FPN: in_channels must be positive");
    lateral_.push_back(lateral->add(make_conv(cin, o.out_channels, 1, o, gen)));
  }
  for (size_t i = 0; i < o.in_channels.size(); ++i) fpn_.push_back(fpn->add(make_conv(o.out_channels, o.out_channels, 3, o, gen)));
}

std::vector<Tensor> FPN::forward(const std::vector<Tensor>& c) {
  size_t n = lateral_.size();
  VPS_CHECK(c.size() == n, "FPN: expected ", n, " input maps, got ", c.size());
  std::vector<Tensor> lat(n);
  for (size_t i = 0; i < n; ++i) {
    VPS_CHECK(c[i].dim() == 4 && c[i].size(1) == opt_.in_channels[i], "FPN: input ", i, " has shape ",
              shape_str(c[i].shape()), ", expected (N, ", opt_.in_channels[i], ", H, W)");
    lat[i] = lateral_[i]->forward(c[i]);
  }
  for (size_t i = n - 1; i > 0; --i) {
    Pair size{lat[i - 1].size(2), lat[i - 1].size(3)};
    lat[i - 1] = add(lat[i - 1], interpolate(lat[i], size, InterpMode::nearest));
  }
  std::vector<Tensor> outs;
  for (size_t i = 0; i < n; ++i) outs.push_back(fpn_[i]->forward(lat[i]));
  for (int i = int(n); i < opt_.num_outs; ++i) outs.push_back(max_pool2d(outs.back(), {1, 1}, {2, 2}));
  return outs;
}

}  // namespace vps::models
