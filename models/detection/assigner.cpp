// MaxIoUAssigner: IoU matrix on the boxes' device, assignment loops on the host.
#include "models/detection/assigner.h"

#include "layers/box_coder.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

void AssignResult::add_gt(const Tensor& gt_labels) {
  std::vector<int64_t> inds(static_cast<size_t>(num_gts));
  for (int64_t i = 0; i < num_gts; ++i) inds[size_t(i)] = i + 1;
  gt_inds = cat({Tensor::from_vector(inds, {num_gts}), gt_inds}, 0);
  max_overlaps = cat({Tensor::ones({num_gts}, DType::f32), max_overlaps}, 0);
  if (labels.defined()) {
    VPS_CHECK(gt_labels.defined() && gt_labels.shape() == Shape{num_gts}, "AssignResult::add_gt: gt_labels ",
              gt_labels.defined() ? gt_labels.str() : "undefined", " must be (", num_gts, ")");
    labels = cat({gt_labels.cpu().to(DType::i64), labels}, 0);
  }
}

AssignResult assign_max_iou(const Tensor& boxes, const Tensor& gt_boxes, const Tensor& gt_labels,
                            const MaxIoUAssignerOptions& opt) {
  const char* op = "assign_max_iou";
  check_boxes(op, "boxes", boxes, /*allow5=*/true);
  check_boxes(op, "gt_boxes", gt_boxes);
  int64_t n = boxes.size(0), g = gt_boxes.size(0);
  if (gt_labels.defined())
    VPS_CHECK(gt_labels.dtype() == DType::i64 && gt_labels.shape() == Shape{g}, op, ": gt_labels ", gt_labels.str(),
              " must be int64 (G) for gt_boxes ", gt_boxes.str());
  std::vector<int64_t> inds(size_t(n), g == 0 ? 0 : -1);
  std::vector<float> max_ov(size_t(n), 0.f);
  if (g > 0 && n > 0) {
    Tensor b4 = boxes.slice(1, 0, 4);
    Tensor iou = box_iou(gt_boxes.to(b4.dtype()), b4, true).to(DType::f32).cpu().contiguous();  // (G,n)
    const float* ov = iou.data<float>();
    std::vector<int64_t> argmax(size_t(n), 0);
    for (int64_t j = 0; j < n; ++j) {
      float m = ov[j];
      int64_t a = 0;
      for (int64_t i = 1; i < g; ++i)
        if (ov[i * n + j] > m) m = ov[i * n + j], a = i;
      max_ov[size_t(j)] = m;
      argmax[size_t(j)] = a;
      if (m >= 0 && m < opt.neg_iou_thr) inds[size_t(j)] = 0;
      if (m >= opt.pos_iou_thr) inds[size_t(j)] = a + 1;
    }
    for (int64_t i = 0; i < g; ++i) {
      const float* row = ov + i * n;
      float gm = row[0];
      int64_t ga = 0;
      for (int64_t j = 1; j < n; ++j)
        if (row[j] > gm) gm = row[j], ga = j;
      if (!(gm >= opt.min_pos_iou)) continue;
      if (!opt.gt_max_assign_all) {
        inds[size_t(ga)] = i + 1;
        continue;
      }
      for (int64_t j = 0; j < n; ++j)
        if (row[j] == gm) inds[size_t(j)] = i + 1;
    }
  }
  AssignResult r;
  r.num_gts = g;
  r.gt_inds = Tensor::from_vector(inds, {n});
  r.max_overlaps = Tensor::from_vector(max_ov, {n});
  if (gt_labels.defined()) {
    std::vector<int64_t> gl = gt_labels.cpu().to_vector<int64_t>(), lab(size_t(n), 0);
    for (int64_t j = 0; j < n; ++j)
      if (inds[size_t(j)] > 0) lab[size_t(j)] = gl[size_t(inds[size_t(j)] - 1)];
    r.labels = Tensor::from_vector(lab, {n});
  }
  return r;
}

}  // namespace vps::models
