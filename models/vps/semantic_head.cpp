#include "models/vps/semantic_head.h"

#include "autograd/grad_mode.h"
#include "layers/init.h"
#include "layers/interpolate.h"
#include "losses/det_losses.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

namespace {
// The tower as a Sequential named "0" inside `deform_convs` (VPSNet's ModuleList of one Sequential):
// children 0, 3, 6 are the DCN wrappers, 1, 4, 7 the GroupNorms (2, 5, 8, the ReLUs, hold nothing).
class Tower : public nn::Module {
 public:
  std::string type_name() const override { return "Sequential"; }
  template <class M>
  std::shared_ptr<M> put(int index, std::shared_ptr<M> m) {
    return register_module(std::to_string(index), std::move(m));
  }
};
}  // namespace

SemanticHead::SemanticHead(const SemanticHeadOptions& o) : opt_(o) {
  VPS_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.num_levels >= 1 && o.num_classes >= 1 && o.gn_groups >= 1,
            "SemanticHead: channels, levels, classes and GroupNorm groups must be positive");
  Generator gen(o.seed);
  auto list = register_module("deform_convs", std::make_shared<nn::ModuleList>());
  auto tower = list->add(std::make_shared<Tower>());
  const int64_t widths[4] = {o.in_channels, o.in_channels, o.out_channels, o.out_channels};
  for (int l = 0; l < 3; ++l) {
    auto dcn = tower->put(3 * l, std::make_shared<nn::DeformConvWithOffset>(
                                     nn::ConvOptions::square(widths[l], widths[l + 1], 3, 1, 1, false, o.dtype), 1, gen));
    nn::init::xavier_uniform_(dcn->conv_offset->weight, gen);  // init_weights overrides the wrapper's zero init
    auto gn = tower->put(3 * l + 1, std::make_shared<nn::GroupNorm>(o.gn_groups, widths[l + 1]));
    gn->weight = Tensor::ones({widths[l + 1]}, o.dtype).set_requires_grad();  // GroupNorm builds f32
    gn->bias = Tensor::zeros({widths[l + 1]}, o.dtype).set_requires_grad();
    dcn_.push_back(dcn);
    gn_.push_back(gn);
  }
  auto pred = std::make_shared<nn::Conv2d>(
      nn::ConvOptions::square(o.out_channels * o.num_levels, o.num_classes, 1, 1, 0, true, o.dtype), gen);
  nn::init::xavier_uniform_(pred->weight, gen);
  {
    autograd::NoGradGuard ng;
    pred->bias.zero_();
  }
  conv_pred_ = register_module("conv_pred", std::make_shared<nn::ConvModule>(pred));
}

Tensor SemanticHead::tower(const Tensor& x) {
  Tensor h = x;
  for (size_t l = 0; l < dcn_.size(); ++l) h = relu(gn_[l]->forward(dcn_[l]->forward(h)));
  return h;
}

SemanticOutput SemanticHead::forward(const std::vector<Tensor>& feats) {
  VPS_CHECK(int64_t(feats.size()) >= opt_.num_levels, "SemanticHead: needs ", opt_.num_levels,
            " feature maps (P2..), got ", feats.size());
  std::vector<Tensor> levels;
  for (int64_t l = 0; l < opt_.num_levels; ++l) {
    const Tensor& f = feats[size_t(l)];
    VPS_CHECK(f.dim() == 4 && f.size(1) == opt_.in_channels, "SemanticHead: level ", l, " must be (N, ",
              opt_.in_channels, ", H, W), got ", shape_str(f.shape()));
    Tensor h = tower(f);
    if (l > 0) {
      double s = double(int64_t(1) << l);  // F.interpolate(scale_factor=2^l, bilinear, align_corners=False)
      h = interpolate_scale(h, {s, s}, InterpMode::bilinear, false);
    }
    levels.push_back(h);
  }
  for (size_t l = 1; l < levels.size(); ++l)
    VPS_CHECK(levels[l].size(2) == levels[0].size(2) && levels[l].size(3) == levels[0].size(3),
              "SemanticHead: level ", l, " upsampled to ", shape_str(levels[l].shape()), " does not match P2's ",
              shape_str(levels[0].shape()), " (each level must be half the previous)");
  SemanticOutput out;
  out.fcn_score = conv_pred_->forward(cat(levels, 1));
  out.fcn_output = interpolate_scale(out.fcn_score, {4.0, 4.0}, InterpMode::bilinear, false);
  return out;
}

Tensor SemanticHead::loss(const SemanticOutput& out, const Tensor& gt_semantic) const {
  VPS_CHECK(gt_semantic.dim() == 3 && gt_semantic.size(0) == out.fcn_output.size(0) &&
                gt_semantic.size(1) == out.fcn_output.size(2) && gt_semantic.size(2) == out.fcn_output.size(3),
            "SemanticHead::loss: semantic GT ", shape_str(gt_semantic.shape()), " does not match the output ",
            shape_str(out.fcn_output.shape()), " (N, H, W)");
  return softmax_cross_entropy_nchw(out.fcn_output, gt_semantic.to(DType::i64), opt_.ignore_label);
}

}  // namespace vps::models
