// The pair flow of a training sample (data/flow_io.h) brought to the target frame's training grid with
// the same transforms as the images (data/train_pairs.h): the horizontal flip (mirrored, dx negated:
// both frames flip, so a target pixel at x going to x + dx becomes W-1-x going to W-1-x - dx), the resize
// (bilinear flow with its values multiplied by the size ratio of each axis, nearest for valid); the crop
// and the zero padding (valid 0 there) are applied by the sampler like the image's.
#pragma once
#include <string>

#include "data/flow_io.h"
#include "tensor/tensor.h"

namespace vps::data {

struct TrainingFlow {
  Tensor flow, valid;  // (1, 2, H, W) and (1, 1, H, W) float32
};

// Flips when asked, then resizes f to out_h x out_w.
TrainingFlow transform_pair_flow(const PairFlow& f, bool flip, int out_h, int out_w);

// Reads pair_flow_file(dir, target_file, ref_file) and refuses, naming the file, a flow made for another
// pair or whose grid is not the image's img_h x img_w times the file's scale (rounded as the resize
// rounds); then transform_pair_flow.
TrainingFlow load_training_flow(const std::string& dir, const std::string& target_file, const std::string& ref_file,
                                int img_h, int img_w, bool flip, int out_h, int out_w);

}  // namespace vps::data
