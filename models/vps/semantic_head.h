// VPSNet's semantic head, UPSNet style (mmdet/models/panoptic/upsnetFPN.py, class UPSNetFPN; docs/semantic-head.md):
// one shared tower of 3 x [DeformConvWithOffset + GroupNorm(32) + ReLU] (256->256->128->128) applied to
// each of P2..P5 with the same weights, P3..P5 upsampled bilinearly (x2, x4, x8, align_corners false)
// to P2's size, concatenated (512 channels), a 1x1 conv to the 19 classes (fcn_score, stride 4) and a
// bilinear x4 upsampling to the padded input size (fcn_output). Keys under the model's
// `panopticFPN.`: deform_convs.0.{0,3,6}.conv_offset.{weight,bias}, deform_convs.0.{0,3,6}.conv.weight,
// deform_convs.0.{1,4,7}.{weight,bias}, conv_pred.conv.{weight,bias}.
#pragma once
#include <memory>
#include <vector>

#include "layers/deform_conv2d.h"
#include "layers/norm_modules.h"
#include "layers/module_list.h"

namespace vps::models {

struct SemanticHeadOptions {
  int64_t in_channels = 256, out_channels = 128;  // the tower: in -> in -> out -> out
  int64_t num_levels = 4;                         // P2..P5
  int64_t num_classes = 19;                       // train ids 0..18 (0-10 stuff, 11-18 things)
  int64_t gn_groups = 32;
  int64_t ignore_label = 255;
  DType dtype = DType::f32;
  uint64_t seed = 0;  // init as mmdet's init_weights: xavier-uniform for every Conv2d, DCN U(+-1/sqrt(fan_in))
};

struct SemanticOutput {
  Tensor fcn_score;   // (N, num_classes, H/4, W/4): logits at P2's resolution
  Tensor fcn_output;  // (N, num_classes, H, W): fcn_score upsampled x4
};

class SemanticHead : public nn::Module {
 public:
  explicit SemanticHead(const SemanticHeadOptions& o);
  // feats: P2..P5 (at least num_levels maps; P6 is ignored), each level half the previous.
  SemanticOutput forward(const std::vector<Tensor>& feats);
  // loss_segm: cross entropy of fcn_output against the semantic GT (N, H, W) int64 train ids, pixels
  // equal to ignore_label left out, averaged over the others (F.cross_entropy, weight 1).
  Tensor loss(const SemanticOutput& out, const Tensor& gt_semantic) const;
  std::string type_name() const override { return "SemanticHead"; }
  const SemanticHeadOptions& options() const { return opt_; }

 private:
  Tensor tower(const Tensor& x);
  SemanticHeadOptions opt_;
  std::vector<std::shared_ptr<nn::DeformConvWithOffset>> dcn_;
  std::vector<std::shared_ptr<nn::GroupNorm>> gn_;
  std::shared_ptr<nn::ConvModule> conv_pred_;
};

}  // namespace vps::models
