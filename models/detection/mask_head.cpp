#include "models/detection/mask_head.h"

#include <memory>
#include <string>

#include "layers/init.h"
#include "layers/module_list.h"
#include "ops/ops.h"

namespace vps::models {
namespace {

template <class M>
void kaiming_fan_out(M& m, Generator& gen) {
  nn::init::kaiming_normal_(m.weight, gen, 0, nn::init::FanMode::fan_out, "relu");
  nn::init::constant_(m.bias, 0);
}

}  // namespace

MaskHead::MaskHead(const MaskHeadOptions& o) : MaskHead(o, *std::make_unique<Generator>(0)) {}

MaskHead::MaskHead(const MaskHeadOptions& o, Generator& gen) : opt_(o) {
  VPS_CHECK(o.in_channels > 0 && o.conv_channels > 0 && o.num_convs >= 0 && o.num_classes > 0,
            "MaskHead: bad options (in_channels ", o.in_channels, ", conv_channels ", o.conv_channels, ", num_convs ",
            o.num_convs, ", num_classes ", o.num_classes, ")");
  auto list = register_module("convs", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < o.num_convs; ++i) {
    auto c = std::make_shared<nn::Conv2d>(nn::ConvOptions::square(i == 0 ? o.in_channels : o.conv_channels, o.conv_channels, 3, 1, 1),
                                          gen);
    kaiming_fan_out(*c, gen);
    list->add(std::make_shared<nn::ConvModule>(c));
    convs.push_back(c);
  }
  int64_t up_in = o.num_convs > 0 ? o.conv_channels : o.in_channels;
  upsample = register_module("upsample",
                             std::make_shared<nn::ConvTranspose2d>(nn::ConvOptions::square(up_in, o.conv_channels, 2, 2, 0), gen));
  kaiming_fan_out(*upsample, gen);
  conv_logits = register_module("conv_logits",
                                std::make_shared<nn::Conv2d>(nn::ConvOptions::square(o.conv_channels, o.num_classes, 1, 1, 0), gen));
  kaiming_fan_out(*conv_logits, gen);
}

Tensor MaskHead::forward(const Tensor& roi_feats) {
  VPS_CHECK(roi_feats.defined() && roi_feats.dim() == 4 && roi_feats.size(1) == opt_.in_channels,
            "MaskHead: roi_feats must be (K,", opt_.in_channels, ",S,S), got ",
            roi_feats.defined() ? shape_str(roi_feats.shape()) : "undefined");
  Tensor x = roi_feats;
  for (auto& c : convs) x = c->forward_relu(x);
  return conv_logits->forward(relu(upsample->forward(x)));
}

}  // namespace vps::models
