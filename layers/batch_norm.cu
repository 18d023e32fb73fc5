// batch_norm forward/backward: per-channel reductions run one channel per thread (parallel_for over C),
// elementwise parts one element per thread; both bodies are shared by the CPU and CUDA builds.
#include "layers/batch_norm.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "layers/norm_util.h"
#include "tensor/hd.h"

namespace vps {

namespace {

// Per-channel mean and biased variance of x viewed as (N, C, S), two passes in double.
template <class T>
void channel_stats(const Tensor& x, int64_t N, int64_t C, int64_t S, const Tensor& mean, const Tensor& var) {
  const T* px = x.data<T>();
  T* pm = mean.data<T>();
  T* pv = var.data<T>();
  double cnt = double(N * S);
  Tensor s1 = row_sums(x.device(), C, N, S, VPS_KERNEL((int64_t c, int64_t n, int64_t k) {
    Sum2 v;
    v.a = double(px[(n * C + c) * S + k]);
    return v;
  }));
  const double* p1 = s1.data<double>();
  Tensor s2 = row_sums(x.device(), C, N, S, VPS_KERNEL((int64_t c, int64_t n, int64_t k) {
    Sum2 v;
    double d = double(px[(n * C + c) * S + k]) - p1[2 * c] / cnt;
    v.a = d * d;
    return v;
  }));
  const double* p2 = s2.data<double>();
  parallel_for(x.device(), C, VPS_KERNEL((int64_t c) {
    pm[c] = T(p1[2 * c] / cnt);
    pv[c] = T(p2[2 * c] / cnt);
  }));
}

// y = (x - mean_c) * scale_c + b_c with scale_c = invstd_c * w_c: one fused pass in x's dtype with the
// per-channel factors folded first (in eval mode this is the whole op).
template <class T>
void normalize(const Tensor& x, int64_t C, int64_t S, const Tensor& mean, const Tensor& invstd, const Tensor& w,
               const Tensor& b, const Tensor& y) {
  const T *px = x.data<T>(), *pm = mean.data<T>(), *pi = invstd.data<T>(), *pw = w.data<T>(), *pb = b.data<T>();
  T* py = y.data<T>();
  for_row_spans(x.device(), x.numel() / (S > 0 ? S : 1), S, VPS_KERNEL((int64_t r, int64_t k0, int64_t k1) {
    int64_t c = r % C;
    T m = pm[c], a = T(double(pi[c]) * double(pw[c])), d = pb[c];
    const T* xr = px + r * S;
    T* yr = py + r * S;
    for (int64_t k = k0; k < k1; ++k) yr[k] = (xr[k] - m) * a + d;
  }));
}

struct BatchNormBackward : NormBackwardBase {
  bool training = true;
  const char* name() const override { return "BatchNormBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor X = x.get(name()), W = weight.get(name()), M = mean.get(name()), I = invstd.get(name());
    Tensor dy = grads[0].contiguous();
    Tensor dx = Tensor::empty(X.shape(), X.dtype(), X.device());
    Tensor dw = Tensor::empty({C}, X.dtype(), X.device()), db = Tensor::empty({C}, X.dtype(), X.device());
    int64_t n_ = N, c_ = C, s_ = S;
    bool tr = training;
    VPS_DISPATCH_FLOAT(X.dtype(), "batch_norm backward", [&] {
      using T = scalar_t;
      const T *px = X.data<T>(), *pg = dy.data<T>(), *pm = M.data<T>(), *pi = I.data<T>(), *pw = W.data<T>();
      T *pdw = dw.data<T>(), *pdb = db.data<T>(), *pdx = dx.data<T>();
      if (tr || next[1].valid() || next[2].valid()) {  // frozen BN needs only dx
        Tensor sums = row_sums(X.device(), C, N, S, VPS_KERNEL((int64_t c, int64_t n, int64_t k) {
          int64_t i = (n * c_ + c) * s_ + k;
          Sum2 v;
          v.a = double(pg[i]);
          v.b = double(pg[i]) * (double(px[i]) - double(pm[c])) * double(pi[c]);
          return v;
        }));
        const double* ps = sums.data<double>();
        parallel_for(X.device(), C, VPS_KERNEL((int64_t c) {
          pdb[c] = T(ps[2 * c]);
          pdw[c] = T(ps[2 * c + 1]);
        }));
      }
      // dx = scale_c * (dy - [training] (db_c + xhat * dw_c) / cnt), xhat = (x - mean_c) * invstd_c,
      // with the per-channel factors folded: dx = a * dy + bx * (x - mean_c) + d.
      double cnt = double(n_ * s_);
      for_row_spans(X.device(), n_ * c_, s_, VPS_KERNEL((int64_t r, int64_t k0, int64_t k1) {
        int64_t c = r % c_;
        double inv = double(pi[c]), scale = double(pw[c]) * inv;
        T a = T(scale), m = pm[c], bx = T(tr ? -scale * inv * double(pdw[c]) / cnt : 0.0),
          d = T(tr ? -scale * double(pdb[c]) / cnt : 0.0);
        const T *xr = px + r * s_, *gr = pg + r * s_;
        T* dr = pdx + r * s_;
        for (int64_t k = k0; k < k1; ++k) dr[k] = a * gr[k] + bx * (xr[k] - m) + d;
      }));
    });
    return {next[0].valid() ? dx : Tensor(), next[1].valid() ? dw : Tensor(), next[2].valid() ? db : Tensor()};
  }
};

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  VPS_CHECK(x_in.defined() && x_in.dim() >= 2, op, ": expected input (N, C, *), got ",
            x_in.defined() ? shape_str(x_in.shape()) : "undefined");
  int64_t N = x_in.size(0), C = x_in.size(1), S = (N * C != 0) ? x_in.numel() / (N * C) : 0;
  check_channel_param(op, "weight", weight, x_in, C);
  check_channel_param(op, "bias", bias, x_in, C);
  check_channel_param(op, "running_mean", running_mean, x_in, C);
  check_channel_param(op, "running_var", running_var, x_in, C);
  VPS_CHECK(running_mean.defined() == running_var.defined(), op, ": give both running_mean and running_var or neither");
  VPS_CHECK(training || running_mean.defined(), op, ": eval mode needs running_mean and running_var");
  VPS_CHECK(!training || N * S > 1, op, ": expected more than 1 value per channel when training, got input ",
            shape_str(x_in.shape()));
  Tensor x = x_in.contiguous();
  Tensor w = param_or(weight, C, 1, x), b = param_or(bias, C, 0, x);
  Tensor mean = Tensor::empty({C}, x.dtype(), x.device()), var = Tensor::empty({C}, x.dtype(), x.device());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    if (training) {
      channel_stats<T>(x, N, C, S, mean, var);
      if (running_mean.defined()) {
        T *rm = running_mean.data<T>(), *rv = running_var.data<T>(), *pm = mean.data<T>(), *pv = var.data<T>();
        int64_t sm = running_mean.stride(0), sv = running_var.stride(0);
        double mom = momentum, corr = double(N * S) / double(N * S - 1);
        parallel_for(x.device(), C, VPS_KERNEL((int64_t c) {
          rm[c * sm] = T((1 - mom) * double(rm[c * sm]) + mom * double(pm[c]));
          rv[c * sv] = T((1 - mom) * double(rv[c * sv]) + mom * double(pv[c]) * corr);
        }));
        running_mean.bump_version();
        running_var.bump_version();
      }
    } else {
      strided_copy_channel<T>(running_mean, mean);
      strided_copy_channel<T>(running_var, var);
    }
    T* pv = var.data<T>();
    double e = eps;
    parallel_for(x.device(), C, VPS_KERNEL((int64_t c) { pv[c] = T(1.0 / ::sqrt(double(pv[c]) + e)); }));
    normalize<T>(x, C, S, mean, var, w, b, y);
  });
  if (autograd::needs_grad({x_in, weight, bias})) {
    auto n = std::make_shared<BatchNormBackward>();
    n->save(x, w, mean, var, N, C, S);
    n->training = training;
    autograd::record(n, {x_in, weight, bias}, {y});
  }
  return y;
}

std::pair<Tensor, Tensor> fold_batch_norm(const Tensor& conv_w, const Tensor& conv_b, const Tensor& bn_weight,
                                          const Tensor& bn_bias, const Tensor& running_mean,
                                          const Tensor& running_var, double eps) {
  const char* op = "fold_batch_norm";
  VPS_CHECK(conv_w.defined() && conv_w.dim() >= 1, op, ": conv weight must be (Co, ...)");
  int64_t Co = conv_w.size(0), K = conv_w.numel() / (Co ? Co : 1);
  check_channel_param(op, "conv bias", conv_b, conv_w, Co, 0);
  check_channel_param(op, "bn weight", bn_weight, conv_w, Co, 0);
  check_channel_param(op, "bn bias", bn_bias, conv_w, Co, 0);
  check_channel_param(op, "running_mean", running_mean, conv_w, Co, 0);
  check_channel_param(op, "running_var", running_var, conv_w, Co, 0);
  VPS_CHECK(running_mean.defined() && running_var.defined(), op, ": running_mean and running_var are required");
  Tensor w = conv_w.detach().clone(), b = Tensor::empty({Co}, conv_w.dtype(), conv_w.device());
  Tensor cb = param_or(conv_b, Co, 0, conv_w), g = param_or(bn_weight, Co, 1, conv_w);
  Tensor be = param_or(bn_bias, Co, 0, conv_w);
  Tensor rm = running_mean.contiguous(), rv = running_var.contiguous();
  VPS_DISPATCH_FLOAT(w.dtype(), op, [&] {
    using T = scalar_t;
    T *pw = w.data<T>(), *pb = b.data<T>();
    const T *pcb = cb.data<T>(), *pg = g.data<T>(), *pbe = be.data<T>(), *pm = rm.data<T>(), *pv = rv.data<T>();
    double e = eps;
    parallel_for(w.device(), w.numel(), VPS_KERNEL((int64_t i) {
      int64_t c = i / K;
      pw[i] = T(double(pw[i]) * double(pg[c]) / ::sqrt(double(pv[c]) + e));
    }));
    parallel_for(w.device(), Co, VPS_KERNEL((int64_t c) {
      double s = double(pg[c]) / ::sqrt(double(pv[c]) + e);
      pb[c] = T((double(pcb[c]) - double(pm[c])) * s + double(pbe[c]));
    }));
  });
  return {w, b};
}

}  // namespace vps
