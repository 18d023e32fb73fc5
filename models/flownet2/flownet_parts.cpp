#include "models/flownet2/flownet_parts.h"

#include "layers/flow_ops.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

namespace {
constexpr double kSlope = 0.1;  // LeakyReLU(0.1) everywhere, also after the correlation
}  // namespace

FlowConvBlock::FlowConvBlock(std::shared_ptr<nn::Module> op, bool leaky)
    : conv_(std::dynamic_pointer_cast<nn::Conv2d>(op)),
      deconv_(std::dynamic_pointer_cast<nn::ConvTranspose2d>(op)),
      leaky_(leaky) {
  VPS_CHECK(conv_ || deconv_, "FlowConvBlock: the op must be a Conv2d or a ConvTranspose2d");
  register_module("0", std::move(op));
}

Tensor FlowConvBlock::forward(const Tensor& x) const {
  Tensor y = conv_ ? conv_->forward(x) : deconv_->forward(x);
  return leaky_ ? leaky_relu(y, kSlope) : y;
}

FlowNetBase::FlowNetBase(const FlowNetOptions& o) : opt_(o), gen_(o.seed) {
  VPS_CHECK(o.width_divisor >= 1, "FlowNet: width_divisor must be >= 1, got ", o.width_divisor);
  VPS_CHECK(o.dtype == DType::f32 || o.dtype == DType::f64, "FlowNet: dtype must be float32 or float64, got ",
            dtype_name(o.dtype));
}

std::shared_ptr<FlowConvBlock> FlowNetBase::conv(const std::string& name, int64_t cin, int64_t cout, int64_t k,
                                                 int64_t stride, bool leaky) {
  auto c = std::make_shared<nn::Conv2d>(nn::ConvOptions::square(cin, cout, k, stride, (k - 1) / 2, true, opt_.dtype),
                                        gen_);
  return register_module(name, std::make_shared<FlowConvBlock>(c, leaky));
}

std::shared_ptr<FlowConvBlock> FlowNetBase::deconv(const std::string& name, int64_t cin, int64_t cout) {
  auto d = std::make_shared<nn::ConvTranspose2d>(nn::ConvOptions::square(cin, cout, 4, 2, 1, true, opt_.dtype), gen_);
  return register_module(name, std::make_shared<FlowConvBlock>(d, true));
}

std::shared_ptr<nn::Conv2d> FlowNetBase::predict_flow(const std::string& name, int64_t cin) {
  return register_module(name,
                         std::make_shared<nn::Conv2d>(nn::ConvOptions::square(cin, 2, 3, 1, 1, true, opt_.dtype), gen_));
}

std::shared_ptr<nn::ConvTranspose2d> FlowNetBase::upsampled_flow(const std::string& name, bool bias) {
  return register_module(
      name, std::make_shared<nn::ConvTranspose2d>(nn::ConvOptions::square(2, 2, 4, 2, 1, bias, opt_.dtype), gen_));
}

void FlowNetBase::check_input(const Tensor& x, int64_t channels, int64_t levels) const {
  const int64_t m = int64_t(1) << levels;
  VPS_CHECK(x.dim() == 4 && x.size(1) == channels && x.size(2) > 0 && x.size(3) > 0 && x.size(2) % m == 0 &&
                x.size(3) % m == 0,
            name_, ": input must be (B, ", channels, ", H, W) with H and W multiples of ", m, ", got ",
            shape_str(x.shape()));
  VPS_CHECK(x.dtype() == opt_.dtype, name_, ": input dtype ", dtype_name(x.dtype()), " differs from the weights' ",
            dtype_name(opt_.dtype));
}

void FlowNetBase::add_encoder_tail() {
  const FlowNetOptions& o = opt_;
  tail_ = {conv("conv4", o.width(256), o.width(512), 3, 2),   conv("conv4_1", o.width(512), o.width(512)),
           conv("conv5", o.width(512), o.width(512), 3, 2),   conv("conv5_1", o.width(512), o.width(512)),
           conv("conv6", o.width(512), o.width(1024), 3, 2),  conv("conv6_1", o.width(1024), o.width(1024))};
}

void FlowNetBase::add_decoder(bool upsampled_bias, bool inter_convs) {
  const FlowNetOptions& o = opt_;
  // cat5 = [c5, deconv5, flow], cat4 = [c4, deconv4, flow], cat3 = [c3, deconv3, flow], cat2 = [c2, deconv2, flow]
  const int64_t cat[4] = {2 * o.width(512) + 2, o.width(512) + o.width(256) + 2, o.width(256) + o.width(128) + 2,
                          o.width(128) + o.width(64) + 2};
  const int64_t dec_out[4] = {o.width(512), o.width(256), o.width(128), o.width(64)};
  const int64_t dec_in[4] = {o.width(1024), cat[0], cat[1], cat[2]};
  for (int l = 0; l < 4; ++l) deconv_.push_back(deconv("deconv" + std::to_string(5 - l), dec_in[l], dec_out[l]));
  if (inter_convs)
    for (int l = 0; l < 4; ++l)
      inter_.push_back(conv("inter_conv" + std::to_string(5 - l), cat[l], dec_out[l], 3, 1, false));
  predict_.push_back(predict_flow("predict_flow6", o.width(1024)));
  for (int l = 0; l < 4; ++l)
    predict_.push_back(predict_flow("predict_flow" + std::to_string(5 - l), inter_convs ? dec_out[l] : cat[l]));
  for (int l = 0; l < 4; ++l)
    up_.push_back(upsampled_flow("upsampled_flow" + std::to_string(6 - l) + "_to_" + std::to_string(5 - l),
                                 upsampled_bias));
}

Tensor FlowNetBase::encode_decode(const Tensor& c2, const Tensor& c3) const {
  Tensor c4 = tail_[1]->forward(tail_[0]->forward(c3));
  Tensor c5 = tail_[3]->forward(tail_[2]->forward(c4));
  Tensor c6 = tail_[5]->forward(tail_[4]->forward(c5));
  const Tensor skips[4] = {c5, c4, c3, c2};
  Tensor features = c6, flow = predict_[0]->forward(c6);
  for (int l = 0; l < 4; ++l) {
    features = cat({skips[l], deconv_[size_t(l)]->forward(features), up_[size_t(l)]->forward(flow)}, 1);
    flow = predict_[size_t(l) + 1]->forward(inter_.empty() ? features : inter_[size_t(l)]->forward(features));
  }
  return flow;
}

FlowNetC::FlowNetC(const FlowNetOptions& o) : FlowNetBase(o) {
  name_ = "FlowNetC";
  conv1_ = conv("conv1", 3, o.width(64), 7, 2);
  conv2_ = conv("conv2", o.width(64), o.width(128), 5, 2);
  conv3_ = conv("conv3", o.width(128), o.width(256), 5, 2);
  redir_ = conv("conv_redir", o.width(256), o.width(32), 1, 1);
  conv3_1_ = conv("conv3_1", o.width(32) + 441, o.width(256));
  add_encoder_tail();
  add_decoder(true, false);
}

Tensor FlowNetC::forward(const Tensor& x) const {
  check_input(x, 6, 6);
  Tensor a2 = conv2_->forward(conv1_->forward(slice(x, 1, 0, 3)));
  Tensor a3 = conv3_->forward(a2);
  Tensor b3 = conv3_->forward(conv2_->forward(conv1_->forward(slice(x, 1, 3, 6))));
  Tensor corr = leaky_relu(correlation(a3, b3), kSlope);
  Tensor c31 = conv3_1_->forward(cat({redir_->forward(a3), corr}, 1));
  return encode_decode(a2, c31);
}

FlowNetS::FlowNetS(const FlowNetOptions& o, int64_t input_channels) : FlowNetBase(o), input_channels_(input_channels) {
  name_ = "FlowNetS";
  conv1_ = conv("conv1", input_channels, o.width(64), 7, 2);
  conv2_ = conv("conv2", o.width(64), o.width(128), 5, 2);
  conv3_ = conv("conv3", o.width(128), o.width(256), 5, 2);
  conv3_1_ = conv("conv3_1", o.width(256), o.width(256));
  add_encoder_tail();
  add_decoder(false, false);
}

Tensor FlowNetS::forward(const Tensor& x) const {
  check_input(x, input_channels_, 6);
  Tensor s2 = conv2_->forward(conv1_->forward(x));
  return encode_decode(s2, conv3_1_->forward(conv3_->forward(s2)));
}

FlowNetSD::FlowNetSD(const FlowNetOptions& o) : FlowNetBase(o) {
  name_ = "FlowNetSD";
  head_ = {conv("conv0", 6, o.width(64)),
           conv("conv1", o.width(64), o.width(64), 3, 2),
           conv("conv1_1", o.width(64), o.width(128)),
           conv("conv2", o.width(128), o.width(128), 3, 2),
           conv("conv2_1", o.width(128), o.width(128)),
           conv("conv3", o.width(128), o.width(256), 3, 2),
           conv("conv3_1", o.width(256), o.width(256))};
  add_encoder_tail();
  add_decoder(true, true);
}

Tensor FlowNetSD::forward(const Tensor& x) const {
  check_input(x, 6, 6);
  Tensor d = x, d2;
  for (size_t i = 0; i < head_.size(); ++i) {
    d = head_[i]->forward(d);
    if (i == 4) d2 = d;  // conv2_1: the 1/4 skip
  }
  return encode_decode(d2, d);
}

FlowNetFusion::FlowNetFusion(const FlowNetOptions& o) : FlowNetBase(o) {
  name_ = "FlowNetFusion";
  const int64_t cat1 = o.width(128) + o.width(32) + 2, cat0 = o.width(64) + o.width(16) + 2;
  conv0_ = conv("conv0", 11, o.width(64));
  conv1_ = conv("conv1", o.width(64), o.width(64), 3, 2);
  conv1_1_ = conv("conv1_1", o.width(64), o.width(128));
  conv2_ = conv("conv2", o.width(128), o.width(128), 3, 2);
  conv2_1_ = conv("conv2_1", o.width(128), o.width(128));
  deconv1_ = deconv("deconv1", o.width(128), o.width(32));
  deconv0_ = deconv("deconv0", cat1, o.width(16));
  inter1_ = conv("inter_conv1", cat1, o.width(32), 3, 1, false);
  inter0_ = conv("inter_conv0", cat0, o.width(16), 3, 1, false);
  pf2_ = predict_flow("predict_flow2", o.width(128));
  pf1_ = predict_flow("predict_flow1", o.width(32));
  pf0_ = predict_flow("predict_flow0", o.width(16));
  up2_ = upsampled_flow("upsampled_flow2_to_1", true);
  up1_ = upsampled_flow("upsampled_flow1_to_0", true);
}

Tensor FlowNetFusion::forward(const Tensor& x) const {
  check_input(x, 11, 2);
  Tensor e0 = conv0_->forward(x);
  Tensor e1 = conv1_1_->forward(conv1_->forward(e0));
  Tensor e2 = conv2_1_->forward(conv2_->forward(e1));
  Tensor cat1 = cat({e1, deconv1_->forward(e2), up2_->forward(pf2_->forward(e2))}, 1);
  Tensor f1 = pf1_->forward(inter1_->forward(cat1));
  Tensor cat0 = cat({e0, deconv0_->forward(cat1), up1_->forward(f1)}, 1);
  return pf0_->forward(inter0_->forward(cat0));
}

}  // namespace vps::models
