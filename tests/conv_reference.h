// Test reference: direct 2-D convolution in float64 on the CPU, written plainly (no im2col, no BLAS),
// for the conv2d tests and for the layers built on it (deformable conv with zero offsets, ...).
#pragma once
#include <vector>

#include "layers/conv2d.h"
#include "tensor/tensor.h"

namespace vps::testing {

// Direct convolution written plainly (f64, CPU): y[n,o,i,j] = b[o] + sum_{c,ki,kj} x[n, g*Cg+c, ...] w[o,c,ki,kj].
inline Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Pair s, Pair p, Pair d, int64_t groups) {
  auto X = x.contiguous().to_vector<double>(), Wv = w.contiguous().to_vector<double>();
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = w.size(0), kh = w.size(2), kw = w.size(3);
  int64_t Cg = C / groups, Og = O / groups;
  int64_t Ho = (H + 2 * p[0] - d[0] * (kh - 1) - 1) / s[0] + 1, Wo = (W + 2 * p[1] - d[1] * (kw - 1) - 1) / s[1] + 1;
  std::vector<double> Y(size_t(N * O * Ho * Wo), 0.0);
  std::vector<double> B = b.defined() ? b.to_vector<double>() : std::vector<double>(size_t(O), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double acc = B[size_t(o)];
          int64_t gidx = o / Og;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t e = 0; e < kw; ++e) {
                int64_t h = i * s[0] - p[0] + a * d[0], ww = j * s[1] - p[1] + e * d[1];
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                acc += X[size_t(((n * C + gidx * Cg + c) * H + h) * W + ww)] *
                       Wv[size_t(((o * Cg + c) * kh + a) * kw + e)];
              }
          Y[size_t(((n * O + o) * Ho + i) * Wo + j)] = acc;
        }
  return Tensor::from_vector<double>(Y, {N, O, Ho, Wo});
}

}  // namespace vps::testing
