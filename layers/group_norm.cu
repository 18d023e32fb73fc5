// group_norm forward/backward. Per-(n, group) statistics: one (n, group) per thread; per-channel
// weight/bias gradients: one channel per thread; the rest elementwise. Shared CPU/CUDA bodies.
#include "layers/group_norm.h"

#include <cmath>

#include "autograd/node.h"
#include "layers/norm_util.h"
#include "tensor/hd.h"

namespace vps {

namespace {

struct GroupNormBackward : NormBackwardBase {
  int64_t G = 0;
  const char* name() const override { return "GroupNormBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor X = x.get(name()), W = weight.get(name()), M = mean.get(name()), I = invstd.get(name());
    Tensor dy = grads[0].contiguous();
    Tensor dx = Tensor::empty(X.shape(), X.dtype(), X.device());
    Tensor dw = Tensor::empty({C}, X.dtype(), X.device()), db = Tensor::empty({C}, X.dtype(), X.device());
    int64_t n_ = N, c_ = C, s_ = S, g_ = G, cg = C / G;
    VPS_DISPATCH_FLOAT(X.dtype(), "group_norm backward", [&] {
      using T = scalar_t;
      const T *px = X.data<T>(), *pg = dy.data<T>(), *pm = M.data<T>(), *pi = I.data<T>(), *pw = W.data<T>();
      T *pdw = dw.data<T>(), *pdb = db.data<T>(), *pdx = dx.data<T>();
      // One pass over (dy, x): per (n, c) sums ds = sum dy, dsx = sum dy * x (rows are contiguous).
      // From them: db_c = sum_n ds, dw_c = sum_n (dsx - mean_ng * ds) * inv_ng, and per (n, g)
      // a = sum dy*w, b = sum dy*w*xhat over the group's channels.
      Tensor nc = row_sums(X.device(), n_ * c_, 1, s_, VPS_KERNEL((int64_t r, int64_t, int64_t k) {
        int64_t i = r * s_ + k;
        Sum2 v;
        v.a = double(pg[i]);
        v.b = double(pg[i]) * double(px[i]);
        return v;
      }));
      const double* pnc = nc.data<double>();
      parallel_for(X.device(), C, VPS_KERNEL((int64_t c) {
        double sb = 0, sw = 0;
        for (int64_t n = 0; n < n_; ++n) {
          int64_t r = n * c_ + c, ng = n * g_ + c / cg;
          sb += pnc[2 * r];
          sw += (pnc[2 * r + 1] - double(pm[ng]) * pnc[2 * r]) * double(pi[ng]);
        }
        pdb[c] = T(sb);
        pdw[c] = T(sw);
      }));
      Tensor gsum = Tensor::empty({n_ * g_, 2}, DType::f64, X.device());
      double* pgs = gsum.data<double>();
      parallel_for(X.device(), n_ * g_, VPS_KERNEL((int64_t ng) {
        double a = 0, b = 0;
        for (int64_t cc = 0; cc < cg; ++cc) {
          int64_t c = (ng % g_) * cg + cc, r = (ng / g_) * c_ + c;
          double w = double(pw[c]);
          a += w * pnc[2 * r];
          b += w * (pnc[2 * r + 1] - double(pm[ng]) * pnc[2 * r]) * double(pi[ng]);
        }
        pgs[2 * ng] = a;
        pgs[2 * ng + 1] = b;
      }));
      const double* ps = pgs;
      // dx = inv * (dy * w_c - a_ng / cnt - xhat * b_ng / cnt), xhat = (x - mean_ng) * inv, folded per
      // row (n, c): dx = ag * dy + bx * (x - mean_ng) + d.
      double cnt = double(cg * s_);
      for_row_spans(X.device(), n_ * c_, s_, VPS_KERNEL((int64_t r, int64_t k0, int64_t k1) {
        int64_t c = r % c_, ng = (r / c_) * g_ + c / cg;
        double inv = double(pi[ng]);
        T ag = T(inv * double(pw[c])), m = pm[ng], bx = T(-inv * inv * ps[2 * ng + 1] / cnt),
          d = T(-inv * ps[2 * ng] / cnt);
        const T *xr = px + r * s_, *gr = pg + r * s_;
        T* dr = pdx + r * s_;
        for (int64_t k = k0; k < k1; ++k) dr[k] = ag * gr[k] + bx * (xr[k] - m) + d;
      }));
    });
    return {next[0].valid() ? dx : Tensor(), next[1].valid() ? dw : Tensor(), next[2].valid() ? db : Tensor()};
  }
};

}  // namespace

Tensor group_norm(const Tensor& x_in, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  VPS_CHECK(x_in.defined() && x_in.dim() >= 2, op, ": expected input (N, C, *), got ",
            x_in.defined() ? shape_str(x_in.shape()) : "undefined");
  int64_t N = x_in.size(0), C = x_in.size(1), S = (N * C != 0) ? x_in.numel() / (N * C) : 0;
  VPS_CHECK(groups > 0 && C % groups == 0, op, ": ", C, " channels of input ", shape_str(x_in.shape()),
            " are not divisible into ", groups, " groups");
  check_channel_param(op, "weight", weight, x_in, C);
  check_channel_param(op, "bias", bias, x_in, C);
  Tensor x = x_in.contiguous();
  Tensor w = param_or(weight, C, 1, x), b = param_or(bias, C, 0, x);
  int64_t G = groups, cg = C / G;
  Tensor mean = Tensor::empty({N * G}, x.dtype(), x.device()), invstd = Tensor::empty({N * G}, x.dtype(), x.device());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    const T *px = x.data<T>(), *pw = w.data<T>(), *pb = b.data<T>();
    T *pm = mean.data<T>(), *pi = invstd.data<T>(), *py = y.data<T>();
    int64_t len = cg * S;
    double e = eps;
    // a group is contiguous in (N, C, S): row ng is px[ng * len .. (ng + 1) * len)
    Tensor s1 = row_sums(x.device(), N * G, 1, len, VPS_KERNEL((int64_t ng, int64_t, int64_t m) {
      Sum2 v;
      v.a = double(px[ng * len + m]);
      return v;
    }));
    const double* p1 = s1.data<double>();
    Tensor s2 = row_sums(x.device(), N * G, 1, len, VPS_KERNEL((int64_t ng, int64_t, int64_t m) {
      Sum2 v;
      double d = double(px[ng * len + m]) - p1[2 * ng] / double(len);
      v.a = d * d;
      return v;
    }));
    const double* p2 = s2.data<double>();
    parallel_for(x.device(), N * G, VPS_KERNEL((int64_t ng) {
      pm[ng] = T(len ? p1[2 * ng] / double(len) : 0);
      pi[ng] = T(1.0 / ::sqrt((len ? p2[2 * ng] / double(len) : 0) + e));
    }));
    for_row_spans(x.device(), N * C, S, VPS_KERNEL((int64_t r, int64_t k0, int64_t k1) {
      int64_t c = r % C, ng = (r / C) * G + c / cg;
      T m = pm[ng], a = T(double(pi[ng]) * double(pw[c])), d = pb[c];
      const T* xr = px + r * S;
      T* yr = py + r * S;
      for (int64_t k = k0; k < k1; ++k) yr[k] = (xr[k] - m) * a + d;
    }));
  });
  if (autograd::needs_grad({x_in, weight, bias})) {
    auto n = std::make_shared<GroupNormBackward>();
    n->save(x, w, mean, invstd, N, C, S);
    n->G = G;
    autograd::record(n, {x_in, weight, bias}, {y});
  }
  return y;
}

}  // namespace vps
