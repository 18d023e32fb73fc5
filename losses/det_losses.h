// Detection losses (mmdetection v1 conventions, spec section 2). All are differentiable w.r.t. the
// prediction only: targets, labels and weights are constants (never given a gradient). Reductions:
// sum(weight * elementwise loss) / avg_factor, or the mean over all elements when avg_factor <= 0
// (mmdet weight_reduce_loss). Results are 0-dim tensors of the prediction's dtype and device.
#pragma once
#include "tensor/tensor.h"

namespace vps {

// Elementwise weighted losses (same shape as the inputs), the building blocks of the reductions below.
// BCE with logits in the stable form max(x,0) - x t + log(1 + exp(-|x|)); backward w (sigmoid(x) - t).
Tensor sigmoid_bce_elementwise(const Tensor& logits, const Tensor& targets, const Tensor& weights = Tensor());
// mmdet v1 smooth L1 of d = pred - target: |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta (beta 0: L1).
Tensor smooth_l1_elementwise(const Tensor& pred, const Tensor& target, double beta, const Tensor& weights = Tensor());

// logits/targets/weights: same shape, same float dtype (weights may be undefined = all ones).
Tensor sigmoid_bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& weights = Tensor(),
                               double avg_factor = -1);
Tensor smooth_l1(const Tensor& pred, const Tensor& target, const Tensor& weights = Tensor(), double beta = 1.0,
                 double avg_factor = -1);

// logits (K,C) float, labels (K) i64 in [0,C) or == ignore_index, weights (K) float or undefined.
// sum_k w_k * (-log_softmax(logits)[k, label_k]) / avg_factor over non-ignored k; avg_factor <= 0:
// divided by the number of non-ignored entries with weight > 0 (at least 1), as torch's mean with
// ignore_index when there are no weights and mmdet's max(sum(label_weights > 0), 1) with them.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& weights = Tensor(),
                             double avg_factor = -1, int64_t ignore_index = -100);
// Dense layout: logits (N,C,H,W), labels (N,H,W) i64 (e.g. ignore 255): permute + reshape to (K,C).
Tensor softmax_cross_entropy_nchw(const Tensor& logits, const Tensor& labels, int64_t ignore_index = 255);

// mask_logits (K,nc,S,S), targets (K,S,S) float 0/1, labels (K) i64 in [0,nc): BCE-with-logits on the
// channel of each RoI's label, mean over all K*S*S pixels (mmdet mask_cross_entropy). K = 0 gives 0
// (still connected to the graph, so backward runs and gives zero gradients).
Tensor mask_bce(const Tensor& mask_logits, const Tensor& targets, const Tensor& labels);

// bbox_pred (K,4nc), labels (K) i64 in [0,nc) -> (K,4): the 4 deltas of each RoI's own class (mmdet's
// bbox_pred.view(K,-1,4)[arange(K), labels]); differentiable (gather).
Tensor class_deltas(const Tensor& bbox_pred, const Tensor& labels);

// Top-1 accuracy in percent of logits (K,C) vs labels (K) i64 (mmdet `acc`); no gradient. K = 0: 0.
double classification_accuracy(const Tensor& logits, const Tensor& labels);

}  // namespace vps
