// Reductions of the fused elementwise losses, softmax cross entropy (log_softmax + gather) and the
// per-class mask BCE, composed from differentiable ops.
#include "losses/det_losses.h"

#include <algorithm>

#include "ops/ops.h"
#include "tensor/check.h"

namespace vps {

// losses/elementwise_loss.cu: index (K,1) i64 and valid (K) mask of labels; returns the count of
// labels outside [0,C) that are not ignore_index.
int64_t prepare_ce_labels(const Tensor& labels, int64_t num_classes, int64_t ignore_index, DType dtype,
                          Tensor* index, Tensor* valid);

namespace {

Tensor reduce_loss(const Tensor& elementwise, double avg_factor) {
  Tensor s = sum(elementwise);
  if (avg_factor > 0) return div(s, avg_factor);
  return div(s, double(std::max<int64_t>(elementwise.numel(), 1)));
}

// A zero that is still connected to `x`, so backward runs (and gives zero gradients) on empty input.
Tensor connected_zero(const Tensor& x) { return mul(sum(x), 0.0); }

}  // namespace

Tensor sigmoid_bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& weights, double avg_factor) {
  return reduce_loss(sigmoid_bce_elementwise(logits, targets, weights), avg_factor);
}

Tensor smooth_l1(const Tensor& pred, const Tensor& target, const Tensor& weights, double beta, double avg_factor) {
  return reduce_loss(smooth_l1_elementwise(pred, target, beta, weights), avg_factor);
}

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& weights, double avg_factor,
                             int64_t ignore_index) {
  const char* op = "softmax_cross_entropy";
  VPS_CHECK(logits.defined() && labels.defined(), op, ": logits and labels must be defined");
  VPS_CHECK(logits.dim() == 2 && is_floating(logits.dtype()), op, ": logits must be float (K,C), got ", logits.str());
  int64_t k = logits.size(0), c = logits.size(1);
  VPS_CHECK(labels.dtype() == DType::i64 && labels.shape() == Shape{k} && labels.device() == logits.device(), op,
            ": labels must be int64 (K) on the logits' device, got ", labels.str(), " for logits ", logits.str());
  if (weights.defined())
    VPS_CHECK(weights.shape() == Shape{k} && weights.dtype() == logits.dtype() && weights.device() == logits.device(),
              op, ": weights ", weights.str(), " must be (K) of the logits' dtype, logits ", logits.str());
  if (k == 0) return connected_zero(logits);
  Tensor index, valid;
  int64_t bad = prepare_ce_labels(labels, c, ignore_index, logits.dtype(), &index, &valid);
  VPS_CHECK(bad == 0, op, ": ", bad, " labels outside [0, ", c, ") and not ignore_index ", ignore_index,
            " (logits ", logits.str(), ")");
  Tensor w = weights.defined() ? mul(valid, weights.detach()) : valid;
  Tensor picked = reshape(gather(log_softmax(logits, 1), 1, index), {k});
  Tensor total = neg(sum(mul(picked, w)));
  if (avg_factor <= 0) avg_factor = std::max(sum(gt(w, 0.0).to(DType::f64)).item_double(), 1.0);
  return div(total, avg_factor);
}

Tensor softmax_cross_entropy_nchw(const Tensor& logits, const Tensor& labels, int64_t ignore_index) {
  const char* op = "softmax_cross_entropy_nchw";
  VPS_CHECK(logits.defined() && labels.defined() && logits.dim() == 4 && labels.dim() == 3, op,
            ": expected logits (N,C,H,W) and labels (N,H,W), got ", logits.defined() ? logits.str() : "undefined",
            " and ", labels.defined() ? labels.str() : "undefined");
  VPS_CHECK(labels.size(0) == logits.size(0) && labels.size(1) == logits.size(2) && labels.size(2) == logits.size(3),
            op, ": labels ", labels.str(), " do not match logits ", logits.str());
  int64_t c = logits.size(1);
  Tensor flat = reshape(permute(logits, {0, 2, 3, 1}), {-1, c});
  return softmax_cross_entropy(flat, labels.reshape({-1}), Tensor(), -1, ignore_index);
}

Tensor mask_bce(const Tensor& mask_logits, const Tensor& targets, const Tensor& labels) {
  const char* op = "mask_bce";
  VPS_CHECK(mask_logits.defined() && targets.defined() && labels.defined(), op, ": inputs must be defined");
  VPS_CHECK(mask_logits.dim() == 4 && is_floating(mask_logits.dtype()), op,
            ": mask_logits must be float (K,nc,S,S), got ", mask_logits.str());
  int64_t k = mask_logits.size(0), nc = mask_logits.size(1), h = mask_logits.size(2), w = mask_logits.size(3);
  VPS_CHECK(targets.shape() == Shape({k, h, w}), op, ": targets ", targets.str(), " must be (K,S,S) for mask_logits ",
            mask_logits.str());
  VPS_CHECK(labels.dtype() == DType::i64 && labels.shape() == Shape{k}, op, ": labels must be int64 (K), got ",
            labels.str(), " for mask_logits ", mask_logits.str());
  if (k == 0) return connected_zero(mask_logits);
  for (int64_t l : labels.cpu().to_vector<int64_t>())
    VPS_CHECK(l >= 0 && l < nc, op, ": label ", l, " outside [0, ", nc, ") for mask_logits ", mask_logits.str());
  Tensor index = labels.to(mask_logits.device()).view({k, 1, 1, 1}).expand({k, 1, h, w}).contiguous();
  Tensor picked = reshape(gather(mask_logits, 1, index), {k, h, w});
  return sigmoid_bce_with_logits(picked, targets.to(mask_logits.dtype()).to(mask_logits.device()), Tensor(), -1);
}

Tensor class_deltas(const Tensor& bbox_pred, const Tensor& labels) {
  const char* op = "class_deltas";
  VPS_CHECK(bbox_pred.defined() && labels.defined() && bbox_pred.dim() == 2 && bbox_pred.size(1) % 4 == 0 &&
                bbox_pred.size(1) > 0, op, ": bbox_pred must be (K,4nc), got ", bbox_pred.defined() ? bbox_pred.str() : "undefined");
  int64_t k = bbox_pred.size(0), nc = bbox_pred.size(1) / 4;
  VPS_CHECK(labels.dtype() == DType::i64 && labels.shape() == Shape{k}, op, ": labels must be int64 (K), got ",
            labels.str(), " for bbox_pred ", bbox_pred.str());
  for (int64_t l : labels.cpu().to_vector<int64_t>())
    VPS_CHECK(l >= 0 && l < nc, op, ": label ", l, " outside [0, ", nc, ") for bbox_pred ", bbox_pred.str());
  Tensor index = labels.to(bbox_pred.device()).view({k, 1, 1}).expand({k, 1, 4}).contiguous();
  return reshape(gather(reshape(bbox_pred, {k, nc, 4}), 1, index), {k, 4});
}

double classification_accuracy(const Tensor& logits, const Tensor& labels) {
  VPS_CHECK(logits.dim() == 2 && labels.shape() == Shape{logits.size(0)}, "classification_accuracy: logits ",
            logits.str(), " and labels ", labels.str(), " must be (K,C) and (K)");
  int64_t k = logits.size(0);
  if (k == 0) return 0;
  std::vector<int64_t> pred = argmax(logits.detach(), 1).cpu().to_vector<int64_t>();
  std::vector<int64_t> lab = labels.cpu().to_vector<int64_t>();
  int64_t hit = 0;
  for (int64_t i = 0; i < k; ++i) hit += pred[size_t(i)] == lab[size_t(i)];
  return 100.0 * double(hit) / double(k);
}

}  // namespace vps
