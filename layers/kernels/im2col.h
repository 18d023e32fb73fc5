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
  // True when every input pixel is read by exactly one (output pixel, tap): stride = kernel, no
  // dilation or padding, no remainder (the mask head's 2x2 / 2 transposed conv).
  bool is_partition() const {
    return kh == sh && kw == sw && dh == 1 && dw == 1 && ph == 0 && pw == 0 && H == Ho * sh && W == Wo * sw;
  }
  // Output columns [lo, hi) within [ow0, ow1) whose input column w = ow*sw - pw + j*dw lies in [0, W)
  // for kernel column j: outside them im2col reads zeros (a straight copy between for unit stride).
  HD void inside_cols(int64_t j, int64_t ow0, int64_t ow1, int64_t& lo, int64_t& hi) const {
    int64_t lo_n = pw - j * dw, hi_n = lo_n + W;
    lo = lo_n <= 0 ? 0 : (lo_n + sw - 1) / sw, hi = hi_n <= 0 ? 0 : (hi_n + sw - 1) / sw;
    lo = lo < ow0 ? ow0 : (lo > ow1 ? ow1 : lo);
    hi = hi > ow1 ? ow1 : (hi < lo ? lo : hi);
  }
};

// dst[i] = src[i * s] for i in [lo, hi). Unit stride and stride 2 (ResNet's stem and downsampling)
// get constant-stride loops, which vectorise on CPU.
template <class T>
HD inline void gather_cols(T* __restrict__ dst, const T* __restrict__ src, int64_t lo, int64_t hi, int64_t s) {
  if (s == 1) {
    for (int64_t i = lo; i < hi; ++i) dst[i] = src[i];
  } else if (s == 2) {
    for (int64_t i = lo; i < hi; ++i) dst[i] = src[2 * i];
  } else {
    for (int64_t i = lo; i < hi; ++i) dst[i] = src[i * s];
  }
}

// Work split: a body call handles `chunk` consecutive output columns (im2col) or input columns
// (col2im) of one row. CPU runs spans of up to 32 (index divisions amortised, enough indices for
// parallel_for's grain); CUDA runs one element per thread (chunk = 1) for coalesced access.
inline int64_t conv_chunk(Device d, int64_t row_len) { return d.is_cuda() ? 1 : (row_len < 32 ? row_len : 32); }

// im2col: col (C*kh*kw, Ho*Wo) from x (C, H, W) contiguous, zero outside the image.
// Flat index i over (r, oh, chunk of ow), r = (c*kh + ki)*kw + j.
// A tile (CPU tiled forward) fills only output rows [oh0, oh0 + rows) into a (C*kh*kw, rows*Wo)
// matrix with row stride ld; rows = -1 / ld = -1 mean all Ho rows / ld = Ho*Wo.
template <class T>
struct Im2colBody {
  ConvGeom g;
  const T* x;
  T* col;
  int64_t chunk;
  int64_t oh0 = 0, rows = -1, ld = -1;
  HD int64_t tile_rows() const { return rows < 0 ? g.Ho : rows; }
  HD void operator()(int64_t i) const {
    int64_t nchunks = (g.Wo + chunk - 1) / chunk, R = tile_rows();
    int64_t ow0 = (i % nchunks) * chunk, t = i / nchunks;
    int64_t ohr = t % R, r = t / R;
    int64_t j = r % g.kw, ki = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
    int64_t ow1 = ow0 + chunk < g.Wo ? ow0 + chunk : g.Wo, lo, hi;
    g.inside_cols(j, ow0, ow1, lo, hi);
    fill(r, c, ki, j, ohr, ow0, ow1, lo, hi);
  }
  // Column row r = (c, ki, j), tile row ohr, columns [ow0, ow1); [lo, hi) from g.inside_cols.
  HD void fill(int64_t r, int64_t c, int64_t ki, int64_t j, int64_t ohr, int64_t ow0, int64_t ow1, int64_t lo,
               int64_t hi) const {
    int64_t h = (oh0 + ohr) * g.sh - g.ph + ki * g.dh;
    T* dst = col + r * (ld < 0 ? tile_rows() * g.Wo : ld) + ohr * g.Wo;
    if (h < 0 || h >= g.H) {
      for (int64_t ow = ow0; ow < ow1; ++ow) dst[ow] = T(0);
      return;
    }
    const T* src = x + (c * g.H + h) * g.W + (j * g.dw - g.pw);  // src[ow * sw] is column w
    for (int64_t ow = ow0; ow < lo; ++ow) dst[ow] = T(0);
    gather_cols(dst, src, lo, hi, g.sw);
    for (int64_t ow = hi; ow < ow1; ++ow) dst[ow] = T(0);
  }
  // CPU tiles: im2col_tile_cpu (layers/conv2d.h) fills the whole tile serially.
  int64_t count() const { return g.col_rows() * tile_rows() * ((g.Wo + chunk - 1) / chunk); }
};

// Scatter form of col2im for one CPU tile (output rows [oh0, oh0 + rows) of a (C*kh*kw, rows*Wo)
// column-gradient tile with row stride ld): x[c, h, w] += every col entry im2col read from (c, h, w).
// run() does the whole tile serially; tiles whose input rows overlap must not run concurrently.
// `assign` (only for a partition geometry, where each x entry gets exactly one col entry): x = col +
// bias[c] (bias may be null) instead of x += col, so x needs no zeroing and no separate bias pass.
template <class T>
struct Col2imTileAdd {
  ConvGeom g;
  const T* col;
  T* x;
  int64_t oh0, rows, ld;
  bool assign = false;
  const T* bias = nullptr;
  void run() const {
    for (int64_t c = 0, r = 0; c < g.C; ++c)
      for (int64_t ki = 0; ki < g.kh; ++ki)
        for (int64_t j = 0; j < g.kw; ++j, ++r) {
          int64_t lo, hi;
          g.inside_cols(j, 0, g.Wo, lo, hi);
          for (int64_t ohr = 0; ohr < rows; ++ohr) {
            int64_t h = (oh0 + ohr) * g.sh - g.ph + ki * g.dh;
            if (h < 0 || h >= g.H) continue;
            const T* __restrict__ src = col + r * ld + ohr * g.Wo;
            T* __restrict__ dst = x + (c * g.H + h) * g.W + (j * g.dw - g.pw);  // dst[ow * sw] is column w
            if (assign) {
              const T b = bias ? bias[c] : T(0);
              for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.sw] = src[ow] + b;
            } else if (g.sw == 1) {
              for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.sw] += src[ow];
            }
          }
        }
  }
};

// Gather form of col2im (no atomics, deterministic): x[c, h, w] (+)= sum of every col entry that
// im2col read from (c, h, w). Flat index i over (c, h, chunk of w). `accumulate` adds into x.
template <class T>
struct Col2imBody {
  ConvGeom g;
  const T* col;
  T* x;
  bool accumulate;
  int64_t chunk;
  // Output index o with o * s == n, or -1 when there is none in [0, limit).
  HD static int64_t out_index(int64_t n, int64_t s, int64_t limit) {
    if (n < 0) return -1;
    int64_t o = s == 1 ? n : n / s;
    return (o * s == n && o < limit) ? o : -1;
  }
  HD void operator()(int64_t i) const {
    int64_t nchunks = (g.W + chunk - 1) / chunk;
    int64_t w0 = (i % nchunks) * chunk, t = i / nchunks;
    int64_t h = t % g.H, c = t / g.H;
    int64_t w1 = w0 + chunk < g.W ? w0 + chunk : g.W;
    int64_t L = g.Ho * g.Wo;
    T* dst = x + (c * g.H + h) * g.W;
    for (int64_t w = w0; w < w1; ++w) {
      T acc = T(0);
      for (int64_t ki = 0; ki < g.kh; ++ki) {
        int64_t oh = out_index(h + g.ph - ki * g.dh, g.sh, g.Ho);
        if (oh < 0) continue;
        const T* src = col + (c * g.kh + ki) * g.kw * L + oh * g.Wo;
        for (int64_t j = 0; j < g.kw; ++j) {
          int64_t ow = out_index(w + g.pw - j * g.dw, g.sw, g.Wo);
          if (ow >= 0) acc += src[j * L + ow];
        }
      }
      dst[w] = accumulate ? dst[w] + acc : acc;
    }
  }
  int64_t count() const { return g.C * g.H * ((g.W + chunk - 1) / chunk); }
};

// out[n, o, l] += bias[o] over a contiguous (N, O, L) tensor; flat index i.
template <class T>
struct AddBiasBody {
  const T* bias;
  T* out;
  int64_t O, L;
  HD void operator()(int64_t i) const { out[i] += bias[(i / L) % O]; }
};
// The same on CPU by rows: item r = (n, o) adds bias[o] to its L contiguous outputs (no division per
// element).
template <class T>
struct AddBiasRowsBody {
  const T* bias;
  T* out;
  int64_t O, L;
  HD void operator()(int64_t r) const {
    T b = bias[r % O];
    T* o = out + r * L;
    for (int64_t l = 0; l < L; ++l) o[l] += b;
  }
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
