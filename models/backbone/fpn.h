// FPN neck (mmdetection v1 `necks/fpn.py` with its defaults): lateral 1x1 convs (bias),
// nearest x2 top-down sums, 3x3 output convs (bias, no activation), extra levels by max_pool2d(kernel 1,
// stride 2) of the last output. Keys: lateral_convs.i.conv.{weight,bias}, fpn_convs.i.conv.{weight,bias}.
#pragma once
#include <memory>
#include <vector>

#include "layers/module.h"
#include "layers/module_list.h"

namespace vps::models {

struct FPNOptions {
  std::vector<int64_t> in_channels;  // channels of C2..C5 (or whichever levels are given)
  int64_t out_channels = 256;
  int num_outs = 5;                  // >= in_channels.size(); extra outputs are stride-2 subsamplings
  DType dtype = DType::f32;
  uint64_t seed = 0;                 // init: xavier_uniform weights, zero biases (mmdet's FPN.init_weights)
};

class FPN : public nn::Module {
 public:
  explicit FPN(const FPNOptions& o);
  // c: one map per in_channels entry, (N, in_channels[i], H_i, W_i), each level half the previous
  // (any size: the top-down upsampling goes to the size of the lower level, which equals nearest x2
  // when sizes halve exactly). Returns num_outs maps (N, out_channels, ...): P2..P6 for C2..C5.
  std::vector<Tensor> forward(const std::vector<Tensor>& c);
  std::string type_name() const override { return "FPN"; }
  const FPNOptions& options() const { return opt_; }

 private:
  FPNOptions opt_;
  std::vector<std::shared_ptr<nn::ConvModule>> lateral_, fpn_;
};

}  // namespace vps::models
