// FlowNet2's sub-networks (NVIDIA flownet2-pytorch networks/*.py, as vendored in mcahny/vps;
// docs/flownet2.md): FlowNetC, FlowNetS,
// FlowNetSD and FlowNetFusion with the checkpoint's key names and registration order. No BatchNorm
// (FlowNet2 builds them with batchNorm=False), LeakyReLU(0.1) after every conv()/deconv() block.
// Each returns its finest flow only (flow2 at 1/4, or FlowNetFusion's flow0 at 1/1): FlowNet2 uses
// nothing else. Channel widths are divided by `width_divisor` (at least 1 channel) so that tests run
// the same graph and keys at reduced size; the flow, image and correlation (441) channels stay.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/conv_modules.h"
#include "layers/module.h"

namespace vps::models {

struct FlowNetOptions {
  int64_t width_divisor = 1;  // 1: the checkpoint's widths
  DType dtype = DType::f32;
  uint64_t seed = 0;  // PyTorch's default conv init (the weights are meant to be loaded)
  int64_t width(int64_t channels) const { return std::max<int64_t>(1, channels / width_divisor); }
};

// submodules.py conv() / i_conv() / deconv(): a Sequential whose child "0" is the convolution
// (keys `<name>.0.weight`, `<name>.0.bias`), followed by LeakyReLU(0.1) unless it is an i_conv.
class FlowConvBlock : public nn::Module {
 public:
  FlowConvBlock(std::shared_ptr<nn::Module> op, bool leaky);
  Tensor forward(const Tensor& x) const;
  std::string type_name() const override { return "Sequential"; }

 private:
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::ConvTranspose2d> deconv_;
  bool leaky_;
};

// The layers the sub-networks share; registration helpers keep PyTorch's order (it is the
// state_dict order).
class FlowNetBase : public nn::Module {
 protected:
  explicit FlowNetBase(const FlowNetOptions& o);
  std::shared_ptr<FlowConvBlock> conv(const std::string& name, int64_t cin, int64_t cout, int64_t k = 3,
                                      int64_t stride = 1, bool leaky = true);
  std::shared_ptr<FlowConvBlock> deconv(const std::string& name, int64_t cin, int64_t cout);
  std::shared_ptr<nn::Conv2d> predict_flow(const std::string& name, int64_t cin);
  std::shared_ptr<nn::ConvTranspose2d> upsampled_flow(const std::string& name, bool bias);
  // Checks x is (B, channels, H, W) with H and W multiples of 2^levels (every decoder cat needs
  // exactly twice the coarser size); the message names the network.
  void check_input(const Tensor& x, int64_t channels, int64_t levels) const;

  // FlowNetC/S/SD: conv4 .. conv6_1 on c3 (1/8) -> c4, c5, c6; then the decoder from c6 to flow2,
  // whose concatenations hold the skip (c5, c4, c3, c2), the deconv and the upsampled flow.
  // With inter_convs (FlowNetSD) each predict_flow reads inter_conv(cat) instead of cat.
  void add_encoder_tail();
  void add_decoder(bool upsampled_bias, bool inter_convs);
  Tensor encode_decode(const Tensor& c2, const Tensor& c3) const;

  FlowNetOptions opt_;
  Generator gen_;
  std::string name_;  // for error messages

 private:
  std::vector<std::shared_ptr<FlowConvBlock>> tail_, deconv_, inter_;  // conv4..conv6_1; deconv5..2; inter_conv5..2
  std::vector<std::shared_ptr<nn::Conv2d>> predict_;                   // predict_flow6..2
  std::vector<std::shared_ptr<nn::ConvTranspose2d>> up_;               // upsampled_flow6_to_5..3_to_2
};

// x (B, 6, H, W): two normalised RGB frames; H, W multiples of 64. Siamese conv1..conv3 (shared weights),
// correlation (441 ch at 1/8) + LeakyReLU, conv_redir of frame 0, conv3_1 on their cat, then the tail.
class FlowNetC : public FlowNetBase {
 public:
  explicit FlowNetC(const FlowNetOptions& o);
  Tensor forward(const Tensor& x) const;  // flow2 (B, 2, H/4, W/4)
  std::string type_name() const override { return "FlowNetC"; }

 private:
  std::shared_ptr<FlowConvBlock> conv1_, conv2_, conv3_, redir_, conv3_1_;
};

// x (B, input_channels, H, W) (12 in FlowNet2). upsampled_flow* have no bias here.
class FlowNetS : public FlowNetBase {
 public:
  FlowNetS(const FlowNetOptions& o, int64_t input_channels = 12);
  Tensor forward(const Tensor& x) const;  // flow2 (B, 2, H/4, W/4)
  std::string type_name() const override { return "FlowNetS"; }

 private:
  int64_t input_channels_;
  std::shared_ptr<FlowConvBlock> conv1_, conv2_, conv3_, conv3_1_;
};

// x (B, 6, H, W): FlowNet-SD (small displacements), full-resolution conv0 and inter_convs.
class FlowNetSD : public FlowNetBase {
 public:
  explicit FlowNetSD(const FlowNetOptions& o);
  Tensor forward(const Tensor& x) const;  // flow2 (B, 2, H/4, W/4)
  std::string type_name() const override { return "FlowNetSD"; }

 private:
  std::vector<std::shared_ptr<FlowConvBlock>> head_;  // conv0, conv1, conv1_1, conv2, conv2_1, conv3, conv3_1
};

// x (B, 11, H, W): the fusion of FlowNet2's two branches, three levels (1/1 .. 1/4).
class FlowNetFusion : public FlowNetBase {
 public:
  explicit FlowNetFusion(const FlowNetOptions& o);
  Tensor forward(const Tensor& x) const;  // flow0 (B, 2, H, W)
  std::string type_name() const override { return "FlowNetFusion"; }

 private:
  std::shared_ptr<FlowConvBlock> conv0_, conv1_, conv1_1_, conv2_, conv2_1_, deconv1_, deconv0_, inter1_, inter0_;
  std::shared_ptr<nn::Conv2d> pf2_, pf1_, pf0_;
  std::shared_ptr<nn::ConvTranspose2d> up2_, up1_;
};

}  // namespace vps::models
