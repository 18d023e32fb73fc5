#include "models/backbone/resnet.h"

#include "autograd/grad_mode.h"
#include "layers/batch_norm.h"
#include "layers/init.h"
#include "layers/pooling.h"
#include "layers/module_list.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

Tensor cast_param(const Tensor& t, DType dtype) {
  Tensor out = t.detach().to(dtype);
  out.set_requires_grad(true);
  return out;
}

// conv kxk (no bias), kaiming_normal(fan_out, relu) as mmdet's ResNet.init_weights.
std::shared_ptr<nn::Conv2d> make_conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad,
                                      const ResNetOptions& o, Generator& gen) {
  auto conv = std::make_shared<nn::Conv2d>(nn::ConvOptions::square(in, out, k, stride, pad, false, o.dtype), gen);
  autograd::NoGradGuard ng;
  nn::init::kaiming_normal_(conv->weight, gen, 0, nn::init::FanMode::fan_out, "relu");
  return conv;
}

}  // namespace

ResNetBatchNorm::ResNetBatchNorm(int64_t channels, bool norm_eval_, DType dtype)
    : nn::BatchNorm2d(channels), norm_eval(norm_eval_) {
  if (dtype != weight.dtype()) {
    weight = cast_param(weight, dtype);
    bias = cast_param(bias, dtype);
    running_mean = running_mean.to(dtype);
    running_var = running_var.to(dtype);
  }
  if (norm_eval) training_ = false;
}

void ResNetBatchNorm::on_train(bool) {
  if (norm_eval) training_ = false;
}

Tensor ConvBn::forward(const Tensor& x, bool act, const Tensor& residual) const {
  ConvEpilogue e{Tensor(), residual, act};
  if (folded_w.defined()) {
    VPS_CHECK(folded_w.device() == x.device() && folded_w.dtype() == x.dtype(), "ResNet: BatchNorm was folded for ",
              folded_w.device().str(), " ", dtype_name(folded_w.dtype()), " but the input is ", x.device().str(), " ",
              dtype_name(x.dtype()), " (fold after moving the model)");
    return conv2d(x, folded_w, folded_b, conv->params(), e);
  }
  if (conv->options.precision == MatmulPrecision::bf16 && !bn->uses_batch_stats()) {
    // the BN's scale and shift (fold_batch_norm of a unit weight) as the conv's epilogue
    autograd::NoGradGuard ng;
    int64_t O = conv->weight.size(0);
    auto ss = fold_batch_norm(Tensor::ones({O, 1}, conv->weight.dtype(), conv->weight.device()),
                              conv->bias.defined() ? conv->bias.detach() : Tensor(), bn->weight.detach(),
                              bn->bias.detach(), bn->running_mean, bn->running_var, bn->eps);
    e.scale = ss.first.reshape({O});
    return conv2d(x, conv->weight, ss.second, conv->params(), e);
  }
  Tensor y = bn->forward(conv->forward(x));
  if (residual.defined()) y = add(y, residual);
  return act ? relu(y) : y;
}

void ConvBn::fold() {
  autograd::NoGradGuard ng;
  auto wb = fold_batch_norm(conv->weight.detach(), conv->bias.defined() ? conv->bias.detach() : Tensor(),
                            bn->weight.detach(), bn->bias.detach(), bn->running_mean, bn->running_var, bn->eps);
  folded_w = wb.first;
  folded_b = wb.second;
}

std::vector<int> resnet_stage_blocks(int depth) {
  switch (depth) {
    case 18: return {2, 2, 2, 2};
    case 34: return {3, 4, 6, 3};
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    default: VPS_FAIL("ResNet: depth must be 18, 34, 50 or 101, got ", depth);
  }
}

bool resnet_is_bottleneck(int depth) { return depth >= 50; }

ResBlock::ResBlock(bool bottleneck, int64_t inplanes, int64_t planes, int64_t stride, const ResNetOptions& o,
                   Generator& gen)
    : bottleneck_(bottleneck) {
  int64_t expansion = bottleneck ? 4 : 1;
  struct Spec {
    int64_t in, out, k, s;
  };
  // pytorch style: stride on the 3x3
  const Spec bott[3] = {{inplanes, planes, 1, 1}, {planes, planes, 3, stride}, {planes, planes * 4, 1, 1}};
  const Spec basic[2] = {{inplanes, planes, 3, stride}, {planes, planes, 3, 1}};
  const Spec* specs = bottleneck ? bott : basic;
  size_t nspecs = bottleneck ? 3 : 2;
  for (size_t i = 0; i < nspecs; ++i) {  // conv1, bn1, conv2, bn2, ...: PyTorch's key order
    const Spec& s = specs[i];
    ConvBn cb;
    std::string k = std::to_string(i + 1);
    cb.conv = register_module("conv" + k, make_conv(s.in, s.out, s.k, s.s, s.k / 2, o, gen));
    cb.bn = register_module("bn" + k, std::make_shared<ResNetBatchNorm>(s.out, o.norm_eval, o.dtype));
    convs_.push_back(cb);
  }
  if (stride != 1 || inplanes != planes * expansion) {
    has_downsample_ = true;
    auto ds = register_module("downsample", std::make_shared<nn::ModuleList>());
    downsample_.conv = ds->add(make_conv(inplanes, planes * expansion, 1, stride, 0, o, gen));
    downsample_.bn = ds->add(std::make_shared<ResNetBatchNorm>(planes * expansion, o.norm_eval, o.dtype));
  }
}

Tensor ResBlock::forward(const Tensor& x) const {
  Tensor h = x;
  for (size_t i = 0; i + 1 < convs_.size(); ++i) h = convs_[i].forward(h, true);
  Tensor identity = has_downsample_ ? downsample_.forward(x) : x;
  return convs_.back().forward(h, true, identity);  // relu(bn(conv(h)) + identity)
}

void ResBlock::fold_batch_norm() {
  for (auto& c : convs_) c.fold();
  if (has_downsample_) downsample_.fold();
}

void ResBlock::freeze() {
  set_requires_grad("", false);
  for (auto& c : convs_) c.bn->set_frozen(true);
  if (has_downsample_) downsample_.bn->set_frozen(true);
}

ResNet::ResNet(const ResNetOptions& o) : opt_(o) {
  std::vector<int> blocks = resnet_stage_blocks(o.depth);
  if (!o.stage_blocks.empty()) {
    VPS_CHECK(o.stage_blocks.size() == 4, "ResNet: stage_blocks needs 4 values, got ", o.stage_blocks.size());
    for (int b : o.stage_blocks) VPS_CHECK(b >= 1, "ResNet: stage_blocks must be >= 1, got ", b);
    blocks = o.stage_blocks;
  }
  bool bottleneck = resnet_is_bottleneck(o.depth);
  VPS_CHECK(o.base_width > 0 && o.in_channels > 0, "ResNet: base_width ", o.base_width, " and in_channels ",
            o.in_channels, " must be positive");
  VPS_CHECK(o.frozen_stages >= -1 && o.frozen_stages <= 4, "ResNet: frozen_stages must be in -1..4, got ",
            o.frozen_stages);
  VPS_CHECK(!o.out_indices.empty(), "ResNet: out_indices is empty");
  for (size_t i = 0; i < o.out_indices.size(); ++i)
    VPS_CHECK(o.out_indices[i] >= 0 && o.out_indices[i] <= 3 && (i == 0 || o.out_indices[i] > o.out_indices[i - 1]),
              "ResNet: out_indices must be increasing values in 0..3");
  Generator gen(o.seed);
  stem_.conv = register_module("conv1", make_conv(o.in_channels, o.base_width, 7, 2, 3, o, gen));
  stem_.bn = register_module("bn1", std::make_shared<ResNetBatchNorm>(o.base_width, o.norm_eval, o.dtype));
  int64_t expansion = bottleneck ? 4 : 1;
  int64_t inplanes = o.base_width;
  for (int s = 0; s < 4; ++s) {
    int64_t planes = o.base_width << s;
    auto layer = register_module("layer" + std::to_string(s + 1), std::make_shared<nn::ModuleList>());
    std::vector<std::shared_ptr<ResBlock>> stage;
    for (int b = 0; b < blocks[s]; ++b) {
      int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      stage.push_back(layer->add(std::make_shared<ResBlock>(bottleneck, inplanes, planes, stride, o, gen)));
      inplanes = planes * expansion;
    }
    stages_.push_back(stage);
  }
  if (o.frozen_stages >= 0) {
    stem_.conv->set_requires_grad("", false);
    stem_.bn->set_requires_grad("", false);
    stem_.bn->set_frozen(true);
  }
  for (int s = 0; s < o.frozen_stages; ++s)
    for (auto& b : stages_[s]) b->freeze();
}

std::vector<Tensor> ResNet::forward(const Tensor& x) {
  VPS_CHECK(x.dim() == 4 && x.size(1) == opt_.in_channels, "ResNet: expected input (N, ", opt_.in_channels,
            ", H, W), got ", shape_str(x.shape()));
  Tensor h = max_pool2d(stem_.forward(x, true), {3, 3}, {2, 2}, {1, 1});
  std::vector<Tensor> outs;
  size_t next = 0;
  for (int s = 0; s < 4 && next < opt_.out_indices.size(); ++s) {
    for (auto& b : stages_[s]) h = b->forward(h);
    if (opt_.out_indices[next] == s) {
      outs.push_back(h);
      ++next;
    }
  }
  return outs;
}

std::vector<int64_t> ResNet::out_channels() const {
  int64_t expansion = resnet_is_bottleneck(opt_.depth) ? 4 : 1;
  std::vector<int64_t> c;
  for (int i : opt_.out_indices) c.push_back((opt_.base_width << i) * expansion);
  return c;
}

void ResNet::fold_batch_norm() {
  stem_.fold();
  for (auto& stage : stages_)
    for (auto& b : stage) b->fold_batch_norm();
  folded_ = true;
}

}  // namespace vps::models
