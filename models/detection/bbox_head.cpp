#include "models/detection/bbox_head.h"

#include <memory>
#include <string>

#include "layers/init.h"
#include "models/detection/roi_extractor.h"
#include "ops/ops.h"

namespace vps::models {

BBoxHead::BBoxHead(const BBoxHeadOptions& o) : BBoxHead(o, *std::make_unique<Generator>(0)) {}

BBoxHead::BBoxHead(const BBoxHeadOptions& o, Generator& gen) : opt_(o) {
  VPS_CHECK(o.in_channels > 0 && o.roi_feat_size > 0 && o.fc_out_channels > 0 && o.num_classes > 1 &&
                o.target_stds.size() == 4,
            "BBoxHead: bad options (in_channels ", o.in_channels, ", roi_feat_size ", o.roi_feat_size,
            ", fc_out_channels ", o.fc_out_channels, ", num_classes ", o.num_classes, ", ", o.target_stds.size(),
            " target_stds)");
  int64_t in = o.in_channels * o.roi_feat_size * o.roi_feat_size;
  shared_fcs = register_module("shared_fcs", std::make_shared<nn::ModuleList>());
  for (int64_t fin : {in, o.fc_out_channels}) {
    auto fc = std::make_shared<nn::Linear>(fin, o.fc_out_channels, gen);
    nn::init::xavier_uniform_(fc->weight, gen);
    nn::init::constant_(fc->bias, 0);
    shared_fcs->add(fc);
  }
  fc_cls = register_module("fc_cls", std::make_shared<nn::Linear>(o.fc_out_channels, o.num_classes, gen));
  fc_reg = register_module("fc_reg", std::make_shared<nn::Linear>(o.fc_out_channels, 4 * o.num_classes, gen));
  nn::init::normal_(fc_cls->weight, gen, 0, 0.01);
  nn::init::normal_(fc_reg->weight, gen, 0, 0.001);
  nn::init::constant_(fc_cls->bias, 0);
  nn::init::constant_(fc_reg->bias, 0);
}

std::pair<Tensor, Tensor> BBoxHead::forward(const Tensor& roi_feats) {
  check_roi_feats("BBoxHead", roi_feats, opt_.in_channels, opt_.roi_feat_size);
  Tensor x = flatten(roi_feats, 1);
  for (size_t i = 0; i < shared_fcs->size(); ++i) x = relu(shared_fcs->at<nn::Linear>(i).forward(x));
  return {fc_cls->forward(x), fc_reg->forward(x)};
}

}  // namespace vps::models
