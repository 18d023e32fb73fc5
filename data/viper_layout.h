// VIPER in its VPS format (the layout mcahny/vps's tools/dataset/viper.py reads; the data itself is not
// public): writes a dataset of the Cityscapes-VPS layout, e.g. `vps synth`'s, as that layout, so the
// VIPER reader (CityscapesVps with DatasetFormat::viper), training and `vps eval vpq --viper` are
// tested without the real data. docs/data-and-eval.md describes both layouts.
#pragma once
#include <string>
#include <vector>

#include "data/panoptic.h"

namespace vps::data {

// VIPER's 23 classes as the converter writes them: train ids 0..10 -> 0..10 (stuff), 11..18 -> 13..20
// (things); 11, 12 (stuff) and 21, 22 (things) exist but stay unused. Names of the used classes are the
// Cityscapes ones (VIPER's own names are not in the released code).
int viper_id_of_cityscapes(int train_id);
const std::vector<Category>& viper_synthetic_categories();

// For every split of `splits` that has a panoptic GT: copies <split>/img and <split>/panoptic_video
// files of the labelled frames and writes viper_panoptic_<split>_video.json and
// instances_<split>_<NN>_viper_coco.json (NN = label_every, two digits, as instances_train_05_...).
void write_viper_layout(const std::string& cityscapes_vps_root, const std::string& out_root,
                        const std::vector<std::string>& splits, int label_every);

}  // namespace vps::data
