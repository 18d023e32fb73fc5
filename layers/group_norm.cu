// group_norm forward/backward. Per-(n, group) statistics: one (n, group) per thread; per-channel
// weight/bias gradients: one channel per thread; the rest elementwise. Shared CPU/CUDA bodies.
#include "layers/group_norm.h"

#include <cmath>

#include "autograd/node.h"
#include "layers/norm_util.h"
#include "tensor/hd.h"

namespace vps {

namespace {

struct GroupNormBackward : autograd::Node {
  autograd::SavedTensor x, weight, mean, invstd;
  int64_t N = 0, C = 0, S = 0, G = 0;
  const char* name() const override { return "GroupNormBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor X = x.get(name()), W = weight.get(name()), M = mean.get(name()), I = invstd.get(name());
    Tensor dy = grads[0].contiguous();
    Tensor dx = Tensor::empty(X.shape(), X.dtype(), X.device());
    Tensor dw = Tensor::empty({C}, X.dtype(), X.device()), db = Tensor::empty({C}, X.dtype(), X.device());
    // per (n, g): a = sum dy*w, b = sum dy*w*xhat
    Tensor sa = Tensor::empty({N * G}, DType::f64, X.device()), sb = Tensor::empty({N * G}, DType::f64, X.device());
    int64_t n_ = N, c_ = C, s_ = S, g_ = G, cg = C / G;
    VPS_DISPATCH_FLOAT(X.dtype(), "group_norm backward", [&] {
      using T = scalar_t;
      const T *px = X.data<T>(), *pg = dy.data<T>(), *pm = M.data<T>(), *pi = I.data<T>(), *pw = W.data<T>();
      T *pdw = dw.data<T>(), *pdb = db.data<T>(), *pdx = dx.data<T>();
      double *pa = sa.data<double>(), *pb = sb.data<double>();
      parallel_for(X.device(), C, VPS_LAMBDA(int64_t c) {
        double s1 = 0, s2 = 0;
        for (int64_t n = 0; n < n_; ++n) {
          int64_t ng = n * g_ + c / cg;
          for (int64_t k = 0; k < s_; ++k) {
            int64_t i = (n * c_ + c) * s_ + k;
            s1 += double(pg[i]);
            s2 += double(pg[i]) * (double(px[i]) - double(pm[ng])) * double(pi[ng]);
          }
        }
        pdb[c] = T(s1);
        pdw[c] = T(s2);
      });
      parallel_for(X.device(), N * G, VPS_LAMBDA(int64_t ng) {
        int64_t n = ng / g_, g = ng % g_;
        double a = 0, b = 0;
        for (int64_t c = g * cg; c < (g + 1) * cg; ++c)
          for (int64_t k = 0; k < s_; ++k) {
            int64_t i = (n * c_ + c) * s_ + k;
            double gw = double(pg[i]) * double(pw[c]);
            a += gw;
            b += gw * (double(px[i]) - double(pm[ng])) * double(pi[ng]);
          }
        pa[ng] = a;
        pb[ng] = b;
      });
      double cnt = double(cg * s_);
      parallel_for(X.device(), X.numel(), VPS_LAMBDA(int64_t i) {
        int64_t c = (i / s_) % c_, n = i / (s_ * c_), ng = n * g_ + c / cg;
        double inv = double(pi[ng]), xhat = (double(px[i]) - double(pm[ng])) * inv;
        double gx = double(pg[i]) * double(pw[c]);
        pdx[i] = T(inv * (gx - pa[ng] / cnt - xhat * pb[ng] / cnt));
      });
    });
    return {next[0].valid() ? dx : Tensor(), next[1].valid() ? dw : Tensor(), next[2].valid() ? db : Tensor()};
  }
  void release() override {
    x.reset();
    weight.reset();
    mean.reset();
    invstd.reset();
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
    parallel_for(x.device(), N * G, VPS_LAMBDA(int64_t ng) {
      const T* p = px + ng * len;  // a group is contiguous in (N, C, S)
      double s = 0, q = 0;
      for (int64_t k = 0; k < len; ++k) s += double(p[k]);
      double m = len ? s / double(len) : 0;
      for (int64_t k = 0; k < len; ++k) q += (double(p[k]) - m) * (double(p[k]) - m);
      pm[ng] = T(m);
      pi[ng] = T(1.0 / ::sqrt((len ? q / double(len) : 0) + e));
    });
    parallel_for(x.device(), x.numel(), VPS_LAMBDA(int64_t i) {
      int64_t c = (i / S) % C, ng = i / len;
      py[i] = T((double(px[i]) - double(pm[ng])) * double(pi[ng]) * double(pw[c]) + double(pb[c]));
    });
  });
  if (autograd::needs_grad({x_in, weight, bias})) {
    auto n = std::make_shared<GroupNormBackward>();
    n->x = x;
    n->weight = w;
    n->mean = mean;
    n->invstd = invstd;
    n->N = N;
    n->C = C;
    n->S = S;
    n->G = G;
    autograd::record(n, {x_in, weight, bias}, {y});
  }
  return y;
}

}  // namespace vps
