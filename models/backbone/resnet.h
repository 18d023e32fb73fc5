// ResNet 18/34/50/101 backbone, PyTorch style (stride on the 3x3 conv), with mmdetection/torchvision
// parameter names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0/1, ...), norm_eval, frozen
// stages, out_indices (C2..C5) and optional BatchNorm folding for inference. See docs/backbone.md.
#pragma once
#include <memory>
#include <vector>

#include "layers/conv_modules.h"
#include "layers/norm_modules.h"

namespace vps::models {

struct ResNetOptions {
  int depth = 50;                        // 18, 34 (BasicBlock) or 50, 101 (Bottleneck)
  int64_t base_width = 64;               // planes of layer1 (64 in the real network)
  int64_t in_channels = 3;
  int frozen_stages = -1;                // -1: none; k >= 0: stem and layer1..k frozen (no grad, eval BN)
  bool norm_eval = true;                 // every BN uses (and never updates) running stats, even in train()
  std::vector<int> out_indices{0, 1, 2, 3};  // stages returned: 0 -> C2 ... 3 -> C5
  std::vector<int> stage_blocks;         // blocks per stage (4 values); empty: those of `depth`
  DType dtype = DType::f32;              // dtype of parameters and buffers (f64 for tests)
  uint64_t seed = 0;                     // init: kaiming_normal(fan_out, relu) convs, BN weight 1 bias 0
};

// BatchNorm2d whose train() is ignored when norm_eval (mmdet's norm_eval=True: running stats only,
// gamma/beta still trainable). Same keys as BatchNorm2d.
class ResNetBatchNorm : public nn::BatchNorm2d {
 public:
  ResNetBatchNorm(int64_t channels, bool norm_eval, DType dtype);
  bool norm_eval;

 protected:
  void on_train(bool on) override;
};

// A conv followed by its BN (siblings in the module tree), then optionally a residual sum and ReLU:
// act(bn(conv(x)) + residual). After fold(), one conv with the folded weight and bias and the BN skipped
// (an identity); the module's own tensors are kept. With bf16 products and BN on running statistics, the
// BN's scale and shift, the sum and ReLU are the conv's fused epilogue (layers/conv2d.h ConvEpilogue).
struct ConvBn {
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<ResNetBatchNorm> bn;
  Tensor folded_w, folded_b;  // defined after fold()
  Tensor forward(const Tensor& x, bool relu = false, const Tensor& residual = Tensor()) const;
  void fold();
};

// One residual block; BasicBlock (expansion 1: conv3x3-bn-relu-conv3x3-bn) or Bottleneck (expansion 4:
// conv1x1-bn-relu-conv3x3(stride)-bn-relu-conv1x1-bn), + identity or downsample (1x1 conv stride s, BN), relu.
class ResBlock : public nn::Module {
 public:
  ResBlock(bool bottleneck, int64_t inplanes, int64_t planes, int64_t stride, const ResNetOptions& o, Generator& gen);
  Tensor forward(const Tensor& x) const;
  std::string type_name() const override { return bottleneck_ ? "Bottleneck" : "BasicBlock"; }
  void fold_batch_norm();
  void freeze();  // requires_grad off on every parameter, BNs frozen (running stats whatever the mode)

 private:
  bool bottleneck_;
  std::vector<ConvBn> convs_;  // conv1/bn1, conv2/bn2 [, conv3/bn3]
  bool has_downsample_ = false;
  ConvBn downsample_;
};

class ResNet : public nn::Module {
 public:
  explicit ResNet(const ResNetOptions& o);
  // x (N, in_channels, H, W) -> the stages of out_indices, in order (C2: stride 4 ... C5: stride 32).
  std::vector<Tensor> forward(const Tensor& x);
  // Channels of each returned map: base_width * 2^i * expansion.
  std::vector<int64_t> out_channels() const;
  std::string type_name() const override { return "ResNet"; }
  // Folds every conv+BN pair (inference only: BN must use running stats, i.e. norm_eval or eval()).
  // Values loaded afterwards are not re-folded, and to(device) does not move the folded copies: load
  // and move first, then fold.
  void fold_batch_norm();
  bool folded() const { return folded_; }
  const ResNetOptions& options() const { return opt_; }
  DType conv_dtype() const { return stem_.conv->weight.dtype(); }  // the parameters' dtype

 private:
  ResNetOptions opt_;
  ConvBn stem_;
  std::vector<std::vector<std::shared_ptr<ResBlock>>> stages_;
  bool folded_ = false;
};

// Block counts per stage for `depth` (18: 2,2,2,2; 34: 3,4,6,3; 50: 3,4,6,3; 101: 3,4,23,3).
std::vector<int> resnet_stage_blocks(int depth);
// BasicBlock for 18 and 34, Bottleneck for 50 and 101.
bool resnet_is_bottleneck(int depth);

}  // namespace vps::models
