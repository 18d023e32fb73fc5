// ModuleList: a container whose children are named "0", "1", ... in insertion order, as PyTorch's
// nn.ModuleList / nn.Sequential (keys `layer1.0.conv1.weight`, `lateral_convs.2.conv.bias`).
#pragma once
#include <memory>
#include <string>

#include "layers/conv_modules.h"
#include "layers/module.h"

namespace vps::models {

class ModuleList : public nn::Module {
 public:
  template <class M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    return register_module(std::to_string(size_++), std::move(m));
  }
  size_t size() const { return size_; }
  std::string type_name() const override { return "ModuleList"; }

 private:
  size_t size_ = 0;
};

// A module holding one child `conv` (mmcv's ConvModule without norm/activation: keys `<name>.conv.weight`).
class ConvModule : public nn::Module {
 public:
  explicit ConvModule(std::shared_ptr<nn::Conv2d> c) : conv(register_module("conv", std::move(c))) {}
  Tensor forward(const Tensor& x) const { return conv->forward(x); }
  std::string type_name() const override { return "ConvModule"; }
  std::shared_ptr<nn::Conv2d> conv;
};

}  // namespace vps::models
