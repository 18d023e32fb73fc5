#include "models/vps/track_head.h"

#include "layers/init.h"
#include "losses/det_losses.h"
#include "models/detection/roi_extractor.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

TrackHead::TrackHead(const TrackHeadOptions& o) : opt_(o) {
  VPS_CHECK(o.in_channels > 0 && o.roi_feat_size > 0 && o.fc_out_channels > 0 && o.num_fcs >= 1 &&
                o.match_coeff.size() == 3,
            "TrackHead: bad options (in_channels ", o.in_channels, ", roi_feat_size ", o.roi_feat_size,
            ", fc_out_channels ", o.fc_out_channels, ", num_fcs ", o.num_fcs, ", ", o.match_coeff.size(),
            " match_coeff, expected 3)");
  VPS_CHECK(o.match == "dot" || o.match == "cosine", "TrackHead: match must be \"dot\" or \"cosine\", got \"", o.match,
            "\"");
  VPS_CHECK(o.duplicate_iou < 1, "TrackHead: duplicate_iou must be below 1 (< 0: off), got ", o.duplicate_iou);
  VPS_CHECK(o.temperature > 0 && o.temperature <= 1e6, "TrackHead: temperature must be in (0, 1e6], got ", o.temperature);
  Generator gen(o.seed);
  fcs = register_module("fcs", std::make_shared<nn::ModuleList>());
  int64_t fin = o.in_channels * o.roi_feat_size * o.roi_feat_size;
  for (int64_t i = 0; i < o.num_fcs; ++i) {
    auto fc = std::make_shared<nn::Linear>(i == 0 ? fin : o.fc_out_channels, o.fc_out_channels, gen);
    nn::init::normal_(fc->weight, gen, 0, 0.01);
    nn::init::constant_(fc->bias, 0);
    fcs->add(fc);
  }
}

Tensor TrackHead::embed(const Tensor& roi_feats) {
  check_roi_feats("TrackHead", roi_feats, opt_.in_channels, opt_.roi_feat_size);
  Tensor x = flatten(roi_feats, 1);
  for (size_t i = 0; i < fcs->size(); ++i) {
    x = fcs->at<nn::Linear>(i).forward(x);
    if (i + 1 < fcs->size()) x = relu(x);  // no ReLU after the last FC
  }
  return x;
}

Tensor TrackHead::match_score(const Tensor& roi_feats, const Tensor& ref_roi_feats) {
  Tensor x = embed(roi_feats), ref = embed(ref_roi_feats);
  if (opt_.match == "cosine") x = div(l2_normalize(x, 1), opt_.temperature), ref = l2_normalize(ref, 1);
  Tensor prod = matmul(x, transpose(ref, 0, 1));
  return cat({Tensor::zeros({x.size(0), 1}, prod.dtype(), prod.device()), prod}, 1);
}

Tensor TrackHead::loss(const Tensor& score, const Tensor& ids, const Tensor& weights) const {
  VPS_CHECK(score.dim() == 2 && ids.dim() == 1 && weights.dim() == 1 && ids.size(0) == score.size(0) &&
                weights.size(0) == score.size(0),
            "TrackHead::loss: match scores ", shape_str(score.shape()), ", ids ", shape_str(ids.shape()),
            " and weights ", shape_str(weights.shape()), " must be (n, m+1), (n), (n)");
  std::vector<double> w = weights.to(DType::f64).to_vector<double>();
  int64_t positives = 0;
  for (double v : w) positives += v > 0;
  Tensor ce = softmax_cross_entropy(score, ids.to(DType::i64), weights.to(score.dtype()),
                                    double(positives > 0 ? positives : 1));
  return mul(ce, opt_.loss_weight);
}

}  // namespace vps::models
