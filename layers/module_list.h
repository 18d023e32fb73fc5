// ModuleList: a container whose children are named "0", "1", ... in insertion order, as PyTorch's
// nn.ModuleList / nn.Sequential (keys `layer1.0.conv1.weight`, `lateral_convs.2.conv.bias`).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/conv_modules.h"
#include "layers/module.h"

namespace vps::nn {

class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    items_.push_back(m);
    return register_module(std::to_string(items_.size() - 1), std::move(m));
  }
  size_t size() const { return items_.size(); }
  // The i-th child as the type it was added with (throws std::bad_cast otherwise).
  template <class M>
  M& at(size_t i) const {
    return dynamic_cast<M&>(*items_.at(i));
  }
  std::string type_name() const override { return "ModuleList"; }

 private:
  std::vector<std::shared_ptr<Module>> items_;
};

// A module holding one child `conv` (mmcv's ConvModule without norm/activation: keys `<name>.conv.weight`).
class ConvModule : public Module {
 public:
  explicit ConvModule(std::shared_ptr<Conv2d> c) : conv(register_module("conv", std::move(c))) {}
  Tensor forward(const Tensor& x) const { return conv->forward(x); }
  std::string type_name() const override { return "ConvModule"; }
  std::shared_ptr<Conv2d> conv;
};

}  // namespace vps::nn
