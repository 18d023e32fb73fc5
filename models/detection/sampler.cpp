// RandomSampler on the host: candidate lists from the assignment, seeded random subsets.
#include "models/detection/sampler.h"

#include <algorithm>
#include <numeric>

#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

// Rows `idx` of a (n,4) CPU tensor.
Tensor take_rows(const Tensor& t, const std::vector<int64_t>& idx) {
  return index_select(t, 0, Tensor::from_vector(idx, {int64_t(idx.size())}));
}

}  // namespace

Tensor SamplingResult::bboxes() const { return cat({pos_bboxes, neg_bboxes}, 0); }

std::vector<int64_t> random_choice(const std::vector<int64_t>& candidates, int64_t k, Generator& gen) {
  int64_t n = int64_t(candidates.size());
  if (k >= n) return candidates;
  if (k <= 0) return {};
  std::vector<double> key = rand({n}, gen, DType::f64).to_vector<double>();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key[size_t(a)] < key[size_t(b)]; });
  std::vector<int64_t> out(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) out[size_t(i)] = candidates[size_t(order[size_t(i)])];
  std::sort(out.begin(), out.end());
  return out;
}

SamplingResult random_sample(AssignResult& assign, const Tensor& boxes, const Tensor& gt_boxes,
                             const Tensor& gt_labels, const RandomSamplerOptions& opt, Generator& gen) {
  const char* op = "random_sample";
  VPS_CHECK(boxes.dim() == 2 && (boxes.size(1) == 4 || boxes.size(1) == 5) && gt_boxes.dim() == 2 &&
                gt_boxes.size(1) == 4, op, ": boxes ", boxes.str(), " must be (n,4|5) and gt_boxes ", gt_boxes.str(), " (G,4)");
  VPS_CHECK(assign.gt_inds.numel() == boxes.size(0) && assign.num_gts == gt_boxes.size(0), op, ": assignment of ",
            assign.gt_inds.numel(), " boxes and ", assign.num_gts, " GTs does not match boxes ", boxes.str(),
            " and gt_boxes ", gt_boxes.str());
  Tensor gtb = gt_boxes.cpu().contiguous();
  Tensor all = boxes.slice(1, 0, 4).cpu().to(gtb.dtype()).contiguous();
  int64_t num_gt_added = 0;
  if (opt.add_gt_as_proposals && gtb.size(0) > 0) {
    all = cat({gtb, all}, 0);
    assign.add_gt(gt_labels);
    num_gt_added = gtb.size(0);
  }
  std::vector<int64_t> gi = assign.gt_inds.to_vector<int64_t>(), pos, neg;
  for (int64_t j = 0; j < int64_t(gi.size()); ++j) {
    if (gi[size_t(j)] > 0) pos.push_back(j);
    else if (gi[size_t(j)] == 0) neg.push_back(j);
  }
  pos = random_choice(pos, int64_t(double(opt.num) * opt.pos_fraction), gen);
  int64_t num_neg = opt.num - int64_t(pos.size());
  if (opt.neg_pos_ub >= 0) num_neg = std::min(num_neg, opt.neg_pos_ub * std::max<int64_t>(int64_t(pos.size()), 1));
  neg = random_choice(neg, num_neg, gen);

  SamplingResult r;
  r.pos_inds = Tensor::from_vector(pos, {int64_t(pos.size())});
  r.neg_inds = Tensor::from_vector(neg, {int64_t(neg.size())});
  r.pos_bboxes = take_rows(all, pos);
  r.neg_bboxes = take_rows(all, neg);
  std::vector<int64_t> agt(pos.size());
  std::vector<uint8_t> is_gt(pos.size());
  for (size_t i = 0; i < pos.size(); ++i) {
    agt[i] = gi[size_t(pos[i])] - 1;
    is_gt[i] = pos[i] < num_gt_added;
  }
  r.pos_assigned_gt_inds = Tensor::from_vector(agt, {int64_t(agt.size())});
  r.pos_is_gt = Tensor::from_vector(is_gt, {int64_t(is_gt.size())});
  r.pos_gt_bboxes = take_rows(gtb, agt);
  if (assign.labels.defined()) r.pos_gt_labels = take_rows(assign.labels, pos);
  return r;
}

}  // namespace vps::models
