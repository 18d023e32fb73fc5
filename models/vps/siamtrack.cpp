#include "models/vps/siamtrack.h"

#include "layers/interpolate.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

ProjectionHead::ProjectionHead(const ProjectionHeadOptions& o) : opt_(o) {
  VPS_CHECK(o.in_channels > 0 && o.hidden_channels > 0 && o.out_channels > 0 && o.num_levels >= 1,
            "ProjectionHead: channels (", o.in_channels, ", ", o.hidden_channels, ", ", o.out_channels,
            ") and num_levels (", o.num_levels, ") must be positive");
  Generator gen(o.seed);
  conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(
                                        nn::ConvOptions::square(o.in_channels, o.hidden_channels, 3, 1, 1, true, o.dtype), gen));
  conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(
                                        nn::ConvOptions::square(o.hidden_channels, o.out_channels, 3, 1, 1, true, o.dtype), gen));
}

Tensor ProjectionHead::forward(const std::vector<Tensor>& feats) const {
  VPS_CHECK(int64_t(feats.size()) >= opt_.num_levels, "ProjectionHead: needs ", opt_.num_levels,
            " feature maps (P2..), got ", feats.size());
  const Tensor& p2 = feats[0];
  VPS_CHECK(p2.dim() == 4 && p2.size(0) == 1 && p2.size(1) == opt_.in_channels, "ProjectionHead: P2 ",
            shape_str(p2.shape()), " must be (1, ", opt_.in_channels, ", h, w)");
  Tensor x = p2;
  for (int64_t l = 1; l < opt_.num_levels; ++l) {
    const Tensor& f = feats[size_t(l)];
    VPS_CHECK(f.dim() == 4 && f.size(0) == 1 && f.size(1) == opt_.in_channels, "ProjectionHead: level ", l, " ",
              shape_str(f.shape()), " must be (1, ", opt_.in_channels, ", h, w)");
    x = add(x, interpolate(f, {p2.size(2), p2.size(3)}, InterpMode::nearest));
  }
  return l2_normalize(conv2_->forward(relu(conv1_->forward(x))), 1);
}

}  // namespace vps::models
