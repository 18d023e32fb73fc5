// Small checks and copies shared by the normalisation ops (batch_norm, group_norm).
#pragma once
#include "autograd/node.h"
#include "layers/kernels/row_span.h"
#include "tensor/check.h"
#include "tensor/hd.h"
#include "tensor/tensor.h"

namespace vps {

// An optional per-channel tensor: undefined, or 1-D of `C` elements with x's dtype and device.
inline void check_channel_param(const char* op, const char* what, const Tensor& p, const Tensor& x, int64_t C,
                                int64_t channel_dim = 1) {
  if (!p.defined()) return;
  VPS_CHECK(p.dim() == 1 && p.size(0) == C, op, ": ", what, " must have shape [", C, "] for input ",
            shape_str(x.shape()), " (channel dim ", channel_dim, "), got ", shape_str(p.shape()));
  VPS_CHECK(p.dtype() == x.dtype(), op, ": ", what, " has dtype ", dtype_name(p.dtype()), " but input has ",
            dtype_name(x.dtype()));
  VPS_CHECK(p.device() == x.device(), op, ": ", what, " is on ", p.device().str(), " but input is on ",
            x.device().str());
}

// p made contiguous, or (C) filled with `value` (x's dtype/device) when p is undefined (no affine).
inline Tensor param_or(const Tensor& p, int64_t C, double value, const Tensor& x) {
  return p.defined() ? p.contiguous() : Tensor::full({C}, value, x.dtype(), x.device());
}

// dst (contiguous, C) = src (1-D, any stride), same dtype and device.
template <class T>
void strided_copy_channel(const Tensor& src, const Tensor& dst) {
  const T* ps = src.data<T>();
  T* pd = dst.data<T>();
  int64_t st = src.stride(0);
  parallel_for(dst.device(), dst.numel(), VPS_KERNEL((int64_t c) { pd[c] = ps[c * st]; }));
}

// What batch_norm and group_norm backward keep: x (contiguous), the affine weight (ones when none),
// the statistics (mean, invstd) and the (N, C, S) view of x.
struct NormBackwardBase : autograd::Node {
  autograd::SavedTensor x, weight, mean, invstd;
  int64_t N = 0, C = 0, S = 0;
  void save(const Tensor& x_, const Tensor& w_, const Tensor& mean_, const Tensor& invstd_, int64_t n, int64_t c,
            int64_t s) {
    x = x_;
    weight = w_;
    mean = mean_;
    invstd = invstd_;
    N = n, C = c, S = s;
  }
  void release() override {
    x.reset();
    weight.reset();
    mean.reset();
    invstd.reset();
  }
};

// The row-span and row-sum helpers take a VPS_KERNEL body and wrap each of its two closures in a body
// functor (a template instantiated with a closure type may not contain a VPS_KERNEL of its own).
template <class F>
struct RowSpanBody {
  F f;
  int64_t S, span;
  HD void operator()(int64_t t) const {
    RowSpan rs = row_span(t, S, span);
    f(rs.row, rs.k0, rs.k1);
  }
};

// Runs f(r, k0, k1) for every span [k0, k1) of every row r in [0, R) of length S. On CPU a span is up
// to 4096 elements of one row (per-row constants hoisted, no per-element index division, contiguous
// loops that vectorise); on CUDA one element per call (one thread each, coalesced).
template <class K>
void for_row_spans(Device device, int64_t R, int64_t S, const K& f) {
  int64_t span = device.is_cuda() ? 1 : (S < 4096 ? (S > 0 ? S : 1) : 4096);
  int64_t per_row = (S + span - 1) / span;
  parallel_for(device, R * per_row,
               make_hd_kernel(RowSpanBody<decltype(f.device)>{f.device, S, span},
                              RowSpanBody<decltype(f.host)>{f.host, S, span}),
               span);
}

// Two running sums per row, returned by row_sums.
struct Sum2 {
  double a = 0, b = 0;
};

// One chunk of row_sums: the sums of f over terms [m0, m1) of row r, walked as contiguous k-segments
// of one n each with four independent accumulators (the adds' latency, not the loads, bounds a single
// running sum).
template <class F>
struct RowSumChunkBody {
  F f;
  int64_t chunks, clen, L, Li;
  double* part;
  HD void operator()(int64_t t) const {
    int64_t r = t / chunks, m0 = (t % chunks) * clen, m1 = m0 + clen < L ? m0 + clen : L;
    double a = 0, b = 0;
    if (m0 < m1) {
      int64_t n = m0 / Li, k = m0 % Li;
      for (int64_t m = m0; m < m1; k = 0, ++n) {
        int64_t k1 = k + (m1 - m) < Li ? k + (m1 - m) : Li;
        m += k1 - k;
        double a4[4] = {0, 0, 0, 0}, b4[4] = {0, 0, 0, 0};
        for (; k + 4 <= k1; k += 4)
          for (int u = 0; u < 4; ++u) {
            Sum2 v = f(r, n, k + u);
            a4[u] += v.a;
            b4[u] += v.b;
          }
        for (; k < k1; ++k) {
          Sum2 v = f(r, n, k);
          a4[0] += v.a;
          b4[0] += v.b;
        }
        a += (a4[0] + a4[1]) + (a4[2] + a4[3]);
        b += (b4[0] + b4[1]) + (b4[2] + b4[3]);
      }
    }
    part[2 * t] = a;
    part[2 * t + 1] = b;
  }
};

// out (R, 2) = the sum over each row's `chunks` partial sums in part (R * chunks, 2).
struct RowSumCombineBody {
  const double* part;
  double* out;
  int64_t chunks;
  HD void operator()(int64_t r) const {
    double a = 0, b = 0;
    for (int64_t k = 0; k < chunks; ++k) a += part[2 * (r * chunks + k)], b += part[2 * (r * chunks + k) + 1];
    out[2 * r] = a;
    out[2 * r + 1] = b;
  }
};

// For r in [0, R): sums f(r, n, k) over n in [0, Lo), k in [0, Li), where f is a VPS_KERNEL body
// returning Sum2. Each row's Lo*Li terms are split into chunks (so a few long rows still fill a GPU);
// chunk partials are added in a second pass. Returns (R, 2) f64 on `device`: column 0 the a-sums,
// column 1 the b-sums.
template <class K>
Tensor row_sums(Device device, int64_t R, int64_t Lo, int64_t Li, const K& f) {
  int64_t L = Lo * Li;
  int64_t by_rows = (8192 + R - 1) / (R > 0 ? R : 1), by_len = (L + 255) / 256;
  int64_t chunks = by_rows < by_len ? by_rows : by_len;
  if (chunks < 1) chunks = 1;
  int64_t clen = (L + chunks - 1) / chunks;
  Tensor part = Tensor::empty({R * chunks, 2}, DType::f64, device), out = Tensor::empty({R, 2}, DType::f64, device);
  double* pp = part.data<double>();
  parallel_for(device, R * chunks,
               make_hd_kernel(RowSumChunkBody<decltype(f.device)>{f.device, chunks, clen, L, Li, pp},
                              RowSumChunkBody<decltype(f.host)>{f.host, chunks, clen, L, Li, pp}),
               clen);
  parallel_for(device, R, RowSumCombineBody{pp, out.data<double>(), chunks});
  return out;
}

}  // namespace vps
