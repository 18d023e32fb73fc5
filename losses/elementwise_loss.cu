// Fused elementwise losses (sigmoid BCE with logits, smooth L1) and the label preparation of softmax
// cross entropy. One HD body per loss serves forward and backward on CPU and CUDA.
#include <cmath>

#include "autograd/node.h"
#include "losses/det_losses.h"
#include "ops/ops.h"
#include "tensor/check.h"
#include "tensor/hd.h"

namespace vps {

namespace {

enum class LossKind { bce, smooth_l1 };

template <class T>
struct LossBody {
  LossKind kind;
  T beta;
  HD T value(T x, T t) const {
    if (kind == LossKind::bce) {
      T ax = x < T(0) ? -x : x;
      return (x > T(0) ? x : T(0)) - x * t + ::log1p(::exp(-ax));
    }
    T d = x - t;
    d = d < T(0) ? -d : d;
    return d < beta ? T(0.5) * d * d / beta : d - T(0.5) * beta;
  }
  HD T deriv(T x, T t) const {
    if (kind == LossKind::bce) {
      T s = x >= T(0) ? T(1) / (T(1) + ::exp(-x)) : ::exp(x) / (T(1) + ::exp(x));
      return s - t;
    }
    T d = x - t;
    T ad = d < T(0) ? -d : d;
    if (ad < beta) return d / beta;
    return d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
  }
};

const char* loss_name(LossKind k) { return k == LossKind::bce ? "sigmoid_bce_with_logits" : "smooth_l1"; }

// out[i] = w[i] * l(x[i], t[i]) (grad_mode false) or g[i] * w[i] * dl/dx (grad_mode true); w may be null.
Tensor loss_kernel(LossKind kind, double beta, const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& g) {
  Tensor xc = x.contiguous(), tc = t.contiguous();
  Tensor wc = w.defined() ? w.contiguous() : Tensor();
  Tensor gc = g.defined() ? g.contiguous() : Tensor();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), loss_name(kind), [&] {
    LossBody<scalar_t> body{kind, scalar_t(beta)};
    const scalar_t* xp = xc.data<scalar_t>();
    const scalar_t* tp = tc.data<scalar_t>();
    const scalar_t* wp = wc.defined() ? wc.data<scalar_t>() : nullptr;
    const scalar_t* gp = gc.defined() ? gc.data<scalar_t>() : nullptr;
    scalar_t* op = out.data<scalar_t>();
    parallel_for(x.device(), x.numel(), VPS_KERNEL((int64_t i) {
      scalar_t wi = wp ? wp[i] : scalar_t(1);
      op[i] = gp ? gp[i] * wi * body.deriv(xp[i], tp[i]) : wi * body.value(xp[i], tp[i]);
    }));
  });
  return out;
}

struct ElementwiseLossBackward : autograd::Node {
  LossKind kind;
  double beta = 0;
  autograd::SavedTensor x, t, w;
  const char* name() const override {
    return kind == LossKind::bce ? "SigmoidBCEWithLogitsBackward" : "SmoothL1Backward";
  }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    return {loss_kernel(kind, beta, x.get(name()), t.get(name()), w.get(name()), g[0])};
  }
  void release() override {
    x.reset();
    t.reset();
    w.reset();
  }
};

void check_same(const char* op, const char* what, const Tensor& x, const Tensor& y) {
  VPS_CHECK(y.defined(), op, ": ", what, " is undefined");
  VPS_CHECK(y.shape() == x.shape() && y.dtype() == x.dtype() && y.device() == x.device(), op, ": ", what, " ",
            y.str(), " must match the prediction ", x.str());
}

Tensor elementwise_loss(LossKind kind, double beta, const Tensor& x, const Tensor& t, const Tensor& w) {
  const char* op = loss_name(kind);
  VPS_CHECK(x.defined(), op, ": prediction is undefined");
  VPS_CHECK(is_floating(x.dtype()), op, ": prediction must be float32 or float64, got ", x.str());
  check_same(op, "target", x, t);
  if (w.defined()) check_same(op, "weights", x, w);
  VPS_CHECK(beta >= 0, op, ": beta must be >= 0, got ", beta);
  Tensor out = loss_kernel(kind, beta, x, t, w, Tensor());
  if (autograd::needs_grad({x})) {
    auto n = std::make_shared<ElementwiseLossBackward>();
    n->kind = kind;
    n->beta = beta;
    n->x = x;
    n->t = t.detach();
    n->w = w.defined() ? w.detach() : Tensor();
    autograd::record(n, {x}, {out});
  }
  return out;
}

}  // namespace

Tensor sigmoid_bce_elementwise(const Tensor& logits, const Tensor& targets, const Tensor& weights) {
  return elementwise_loss(LossKind::bce, 0, logits, targets, weights);
}

Tensor smooth_l1_elementwise(const Tensor& pred, const Tensor& target, double beta, const Tensor& weights) {
  return elementwise_loss(LossKind::smooth_l1, beta, pred, target, weights);
}

// labels (K) i64 -> index (K,1) i64 (ignored -> 0) and valid (K) of `dtype` (1, or 0 where ignored);
// returns the number of labels outside [0,C) that are not ignore_index.
int64_t prepare_ce_labels(const Tensor& labels, int64_t num_classes, int64_t ignore_index, DType dtype,
                          Tensor* index, Tensor* valid) {
  Tensor lc = labels.contiguous();
  int64_t k = lc.numel();
  *index = Tensor::empty({k, 1}, DType::i64, lc.device());
  *valid = Tensor::empty({k}, dtype, lc.device());
  Tensor bad = Tensor::zeros({1}, DType::f64, lc.device());
  const int64_t* lp = lc.data<int64_t>();
  int64_t* ip = index->data<int64_t>();
  double* bp = bad.data<double>();
  VPS_DISPATCH_FLOAT(dtype, "softmax_cross_entropy", [&] {
    scalar_t* vp = valid->data<scalar_t>();
    parallel_for(lc.device(), k, VPS_KERNEL((int64_t i) {
      int64_t l = lp[i];
      bool ign = l == ignore_index;
      bool ok = l >= 0 && l < num_classes;
      ip[i] = ok ? l : 0;
      vp[i] = ok ? scalar_t(1) : scalar_t(0);
      if (!ok && !ign) atomic_add(bp, 1.0);
    }));
  });
  return int64_t(bad.item_double());
}

}  // namespace vps
