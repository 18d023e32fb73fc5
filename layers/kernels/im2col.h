// im2col / col2im bodies shared by the CPU and CUDA builds (one HD body each, run by parallel_for).
// Geometry of one 2-D convolution image: input (C, H, W), kernel (kh, kw), output (Ho, Wo).
// The column matrix of one image is (C*kh*kw, Ho*Wo), row r = (c*kh + i)*kw + j.
#pragma once
#include <cstdint>

#include "tensor/hd.h"

namespace vps {

struct ConvGeom {
  int64_t C = 0, H = 0, W = 0;        // input channels and size (one image)
  int64_t kh = 1, kw = 1;             // kernel
  int64_t sh = 1, sw = 1;             // stride
  int64_t ph = 0, pw = 0;             // padding
  int64_t dh = 1, dw = 1;             // dilation
  int64_t Ho = 0, Wo = 0;             // output size
  int64_t col_rows() const { return C * kh * kw; }
  int64_t col_cols() const { return Ho * Wo; }
  // True when the column matrix equals the input itself (1x1, stride 1, no padding).
  bool is_pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// col[r, l] for flat index i = r * (Ho*Wo) + l; x: (C, H, W) contiguous, zero outside the image.
template <class T>
struct Im2colBody {
  ConvGeom g;
  const T* x;
  T* col;
  HD void operator()(int64_t i) const {
    int64_t L = g.Ho * g.Wo;
    int64_t r = i / L, l = i - r * L;
    int64_t ow = l % g.Wo, oh = l / g.Wo;
    int64_t j = r % g.kw, t = r / g.kw;
    int64_t ki = t % g.kh, c = t / g.kh;
    int64_t h = oh * g.sh - g.ph + ki * g.dh, w = ow * g.sw - g.pw + j * g.dw;
    col[i] = (h >= 0 && h < g.H && w >= 0 && w < g.W) ? x[(c * g.H + h) * g.W + w] : T(0);
  }
};

// Gather form of col2im (no atomics, deterministic): x[c, h, w] (+)= sum of every col entry that
// im2col read from (c, h, w). Flat index i over C*H*W. `accumulate` adds into x instead of storing.
template <class T>
struct Col2imBody {
  ConvGeom g;
  const T* col;
  T* x;
  bool accumulate;
  HD void operator()(int64_t i) const {
    int64_t w = i % g.W, t = i / g.W;
    int64_t h = t % g.H, c = t / g.H;
    int64_t L = g.Ho * g.Wo;
    T acc = T(0);
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      int64_t hn = h + g.ph - ki * g.dh;
      if (hn < 0 || hn % g.sh != 0) continue;
      int64_t oh = hn / g.sh;
      if (oh >= g.Ho) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        int64_t wn = w + g.pw - j * g.dw;
        if (wn < 0 || wn % g.sw != 0) continue;
        int64_t ow = wn / g.sw;
        if (ow >= g.Wo) continue;
        acc += col[((c * g.kh + ki) * g.kw + j) * L + oh * g.Wo + ow];
      }
    }
    x[i] = accumulate ? x[i] + acc : acc;
  }
};

// out[n, o, l] += bias[o] over a contiguous (N, O, L) tensor; flat index i.
template <class T>
struct AddBiasBody {
  const T* bias;
  T* out;
  int64_t O, L;
  HD void operator()(int64_t i) const { out[i] += bias[(i / L) % O]; }
};

// gb[o] = sum over n, l of gy[n, o, l] (gy contiguous (N, O, L)); flat index o.
template <class T>
struct BiasGradBody {
  const T* gy;
  T* gb;
  int64_t N, O, L;
  HD void operator()(int64_t o) const {
    T acc = T(0);
    for (int64_t n = 0; n < N; ++n) {
      const T* p = gy + (n * O + o) * L;
      for (int64_t l = 0; l < L; ++l) acc += p[l];
    }
    gb[o] = acc;
  }
};

}  // namespace vps
