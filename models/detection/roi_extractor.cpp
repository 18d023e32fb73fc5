#include "models/detection/roi_extractor.h"

#include "layers/roi_align.h"
#include "ops/ops.h"

namespace vps::models {

Tensor extract_roi_features(const std::vector<Tensor>& feats, const Tensor& rois, int64_t out_size,
                            const std::vector<int64_t>& strides) {
  // The first strides.size() levels (an FPN's extra P6 is not pooled from, as mmdetection passes
  // x[:len(featmap_strides)]).
  const size_t L = strides.size();
  VPS_CHECK(L > 0 && feats.size() >= L, "extract_roi_features: ", feats.size(), " feature levels for ", L,
            " strides");
  VPS_CHECK(rois.defined() && rois.dim() == 2 && rois.size(1) == 5,
            "extract_roi_features: rois must be (K,5) = (batch, x1, y1, x2, y2), got ",
            rois.defined() ? shape_str(rois.shape()) : "undefined");
  VPS_CHECK(out_size > 0, "extract_roi_features: bad out_size ", out_size);
  for (size_t i = 0; i < L; ++i) {
    VPS_CHECK(feats[i].defined() && feats[i].dim() == 4 && feats[i].size(1) == feats[0].size(1) &&
                  feats[i].size(0) == feats[0].size(0),
              "extract_roi_features: level ", i, " must be (N,C,H,W) like level 0 ", shape_str(feats[0].shape()),
              ", got ", feats[i].defined() ? shape_str(feats[i].shape()) : "undefined");
    VPS_CHECK(strides[i] > 0, "extract_roi_features: bad stride ", strides[i]);
  }
  const Tensor& f0 = feats[0];
  int64_t k = rois.size(0);
  if (k == 0) return roi_align(f0, rois.detach(), RoIAlignOptions{out_size, out_size, 1.0 / double(strides[0]), 2});
  std::vector<int64_t> lvl = map_roi_levels(rois, int64_t(L), 56).cpu().to_vector<int64_t>();
  std::vector<Tensor> parts;
  std::vector<int64_t> order;  // order[j]: the roi at row j of cat(parts)
  for (size_t l = 0; l < L; ++l) {
    std::vector<int64_t> inds;
    for (int64_t r = 0; r < k; ++r)
      if (lvl[size_t(r)] == int64_t(l)) inds.push_back(r);
    if (inds.empty()) continue;
    Tensor idx = Tensor::from_vector<int64_t>(inds, {int64_t(inds.size())}, rois.device());
    RoIAlignOptions o;
    o.out_h = o.out_w = out_size;
    o.spatial_scale = 1.0 / double(strides[l]);
    o.sampling_ratio = 2;
    parts.push_back(roi_align(feats[l], index_select(rois.detach(), 0, idx), o));
    order.insert(order.end(), inds.begin(), inds.end());
  }
  Tensor all = parts.size() == 1 ? parts[0] : cat(parts, 0);
  bool identity = true;
  for (size_t j = 0; j < order.size() && identity; ++j) identity = order[j] == int64_t(j);
  if (identity) return all;  // rois already grouped by level (e.g. all on one level)
  std::vector<int64_t> inv(size_t(k), 0);
  for (size_t j = 0; j < order.size(); ++j) inv[size_t(order[j])] = int64_t(j);
  return index_select(all, 0, Tensor::from_vector<int64_t>(inv, {k}, rois.device()));
}

Tensor rois_from_boxes(const Tensor& boxes) {
  return cat({Tensor::zeros({boxes.size(0), 1}, boxes.dtype(), boxes.device()), boxes.slice(1, 0, 4)}, 1);
}

void check_roi_feats(const char* who, const Tensor& roi_feats, int64_t channels, int64_t size) {
  VPS_CHECK(roi_feats.defined() && roi_feats.dim() == 4 && roi_feats.size(1) == channels && roi_feats.size(2) == size &&
                roi_feats.size(3) == size,
            who, ": roi_feats must be (n,", channels, ",", size, ",", size, "), got ",
            roi_feats.defined() ? shape_str(roi_feats.shape()) : "undefined");
}

}  // namespace vps::models
