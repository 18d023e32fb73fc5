// Deformable convolution v1 bodies (mmdetection v1's deform_conv_cuda_kernel.cu semantics, docs/dcn.md),
// shared by the CPU and CUDA builds: deformable im2col, the offset gradient (col2im_coord) and the
// input gradient (col2im as the exact adjoint of the bilinear sampling).
//
// Offsets of one image: (dg * 2 * K, Ho, Wo); for deformable group gd and tap k = i * kw + j,
// channel gd*2K + 2k is dy and gd*2K + 2k + 1 is dx. Sample point of output (ho, wo), tap (i, j):
//   py = ho * sh - ph + i * dh + dy,   px = wo * sw - pw + j * dw + dx.
// A sample is taken only when -1 < py < H and -1 < px < W (otherwise 0); bilinear with corners
// outside the image read as 0.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/hd.h"

namespace vps {

struct DeformGeom {
  int64_t C = 0, H = 0, W = 0;     // input channels and size (one image)
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t Ho = 0, Wo = 0;
  int64_t dg = 1;                  // deformable groups (C % dg == 0)
  HD int64_t K() const { return kh * kw; }
  HD int64_t channels_per_dg() const { return C / dg; }
};

template <class T>
HD inline bool deform_valid(T py, T px, int64_t H, int64_t W) {
  return py > T(-1) && px > T(-1) && py < T(H) && px < T(W);
}

// The four corners of a sample and their values (0 outside the image).
template <class T>
struct DeformCorners {
  int64_t y0, x0;
  T ly, lx, v00, v01, v10, v11;
  HD DeformCorners(const T* xc, int64_t H, int64_t W, T py, T px) {
    T fy = ::floor(py), fx = ::floor(px);
    y0 = int64_t(fy), x0 = int64_t(fx);
    ly = py - fy, lx = px - fx;
    // Two-sided tests: the offset gradient's torchvision rule evaluates points outside -1 < p < size
    // too (inside it, mmdet's one-sided tests y0 >= 0, y0 + 1 <= H - 1, ... are equivalent).
    bool top = y0 >= 0 && y0 <= H - 1, left = x0 >= 0 && x0 <= W - 1;
    bool bottom = y0 + 1 >= 0 && y0 + 1 <= H - 1, right = x0 + 1 >= 0 && x0 + 1 <= W - 1;
    v00 = top && left ? xc[y0 * W + x0] : T(0);
    v01 = top && right ? xc[y0 * W + x0 + 1] : T(0);
    v10 = bottom && left ? xc[(y0 + 1) * W + x0] : T(0);
    v11 = bottom && right ? xc[(y0 + 1) * W + x0 + 1] : T(0);
  }
  HD T value() const {
    return (T(1) - ly) * (T(1) - lx) * v00 + (T(1) - ly) * lx * v01 + ly * (T(1) - lx) * v10 + ly * lx * v11;
  }
  HD T d_py() const { return -(T(1) - lx) * v00 - lx * v01 + (T(1) - lx) * v10 + lx * v11; }
  HD T d_px() const { return -(T(1) - ly) * v00 + (T(1) - ly) * v01 - ly * v10 + ly * v11; }
};

// Sample coordinates of tap k at output (ho, wo) of deformable group gd (off: one image's offsets).
template <class T>
HD inline void deform_point(const DeformGeom& g, const T* off, int64_t gd, int64_t k, int64_t ho, int64_t wo, T* py,
                            T* px) {
  int64_t plane = g.Ho * g.Wo, pos = ho * g.Wo + wo;
  int64_t ch = gd * 2 * g.K() + 2 * k;
  int64_t i = k / g.kw, j = k % g.kw;
  *py = T(ho * g.sh - g.ph + i * g.dh) + off[ch * plane + pos];
  *px = T(wo * g.sw - g.pw + j * g.dw) + off[(ch + 1) * plane + pos];
}

// Columns of output rows [h0, h0 + rows) of one image: col (C*K, rows*Wo), row c*K + k. One item per
// (c, t) for t in [0, rows*Wo), looping over the K taps.
template <class T>
struct DeformIm2colBody {
  DeformGeom g;
  const T* x;    // (C, H, W)
  const T* off;  // (dg*2K, Ho, Wo)
  T* col;
  int64_t h0, rows;
  HD int64_t count() const { return g.C * rows * g.Wo; }
  HD void operator()(int64_t item) const {
    int64_t L = rows * g.Wo, c = item / L, t = item % L;
    int64_t ho = h0 + t / g.Wo, wo = t % g.Wo, gd = c / g.channels_per_dg(), K = g.K();
    const T* xc = x + c * g.H * g.W;
    for (int64_t k = 0; k < K; ++k) {
      T py, px;
      deform_point(g, off, gd, k, ho, wo, &py, &px);
      col[(c * K + k) * L + t] = deform_valid(py, px, g.H, g.W) ? DeformCorners<T>(xc, g.H, g.W, py, px).value() : T(0);
    }
  }
};

// Offset gradient of output rows [h0, h0 + rows): one item per (gd, k, t), summing over the channels of
// deformable group gd. mmdet_rule: a sample outside -1 < p < size gets 0 for both coordinates
// (mmdetection v1); otherwise torchvision's rule, which keeps the per-corner tests only (it differs
// exactly at p == -1, where its derivative is one-sided).
template <class T>
struct DeformOffsetGradBody {
  DeformGeom g;
  const T* x;     // (C, H, W)
  const T* off;   // (dg*2K, Ho, Wo)
  const T* gcol;  // (C*K, rows*Wo)
  T* goff;        // (dg*2K, Ho, Wo)
  int64_t h0, rows;
  bool mmdet_rule;
  HD int64_t count() const { return g.dg * g.K() * rows * g.Wo; }
  HD void operator()(int64_t item) const {
    int64_t L = rows * g.Wo, K = g.K();
    int64_t t = item % L, k = (item / L) % K, gd = item / (L * K);
    int64_t ho = h0 + t / g.Wo, wo = t % g.Wo;
    T py, px;
    deform_point(g, off, gd, k, ho, wo, &py, &px);
    T sy = 0, sx = 0;
    if (!mmdet_rule || deform_valid(py, px, g.H, g.W)) {
      int64_t cpg = g.channels_per_dg();
      for (int64_t c = gd * cpg; c < (gd + 1) * cpg; ++c) {
        DeformCorners<T> s(x + c * g.H * g.W, g.H, g.W, py, px);
        T gc = gcol[(c * K + k) * L + t];
        sy += gc * s.d_py();
        sx += gc * s.d_px();
      }
    }
    int64_t plane = g.Ho * g.Wo, pos = ho * g.Wo + wo, ch = gd * 2 * K + 2 * k;
    goff[ch * plane + pos] = sy;
    goff[(ch + 1) * plane + pos] = sx;
  }
};

// Adds v times the bilinear weight of each in-image corner of a valid sample into gxc (H, W).
template <class T, bool kAtomic>
HD inline void deform_scatter(T* gxc, int64_t H, int64_t W, T py, T px, T v) {
  T fy = ::floor(py), fx = ::floor(px);
  int64_t y0 = int64_t(fy), x0 = int64_t(fx);
  T ly = py - fy, lx = px - fx;
  const int64_t ys[2] = {y0, y0 + 1}, xs[2] = {x0, x0 + 1};
  const T wy[2] = {T(1) - ly, ly}, wx[2] = {T(1) - lx, lx};
  for (int a = 0; a < 2; ++a)
    for (int e = 0; e < 2; ++e) {
      if (ys[a] < 0 || ys[a] > H - 1 || xs[e] < 0 || xs[e] > W - 1) continue;
      T add = v * wy[a] * wx[e];
      if (kAtomic) atomic_add(&gxc[ys[a] * W + xs[e]], add);
      else gxc[ys[a] * W + xs[e]] += add;
    }
}

// Input gradient of output rows [h0, h0 + rows), the adjoint of DeformIm2colBody. CPU: one item per
// input channel c (the thread owns gx's plane: no atomics, the same sums on every run). CUDA: one
// item per column entry (c*K + k, t) with atomic adds.
template <class T>
struct DeformCol2imBody {
  DeformGeom g;
  const T* off;   // (dg*2K, Ho, Wo)
  const T* gcol;  // (C*K, rows*Wo)
  T* gx;          // (C, H, W), accumulated into
  int64_t h0, rows;
  bool per_channel;  // CPU decomposition
  HD int64_t count() const { return per_channel ? g.C : g.C * g.K() * rows * g.Wo; }
  HD void entry(int64_t c, int64_t k, int64_t t, bool atomic) const {
    int64_t L = rows * g.Wo, ho = h0 + t / g.Wo, wo = t % g.Wo;
    T py, px;
    deform_point(g, off, c / g.channels_per_dg(), k, ho, wo, &py, &px);
    if (!deform_valid(py, px, g.H, g.W)) return;
    T v = gcol[(c * g.K() + k) * L + t];
    if (atomic) deform_scatter<T, true>(gx + c * g.H * g.W, g.H, g.W, py, px, v);
    else deform_scatter<T, false>(gx + c * g.H * g.W, g.H, g.W, py, px, v);
  }
  HD void operator()(int64_t item) const {
    int64_t L = rows * g.Wo, K = g.K();
    if (per_channel) {
      for (int64_t k = 0; k < K; ++k)
        for (int64_t t = 0; t < L; ++t) entry(item, k, t, false);
      return;
    }
    entry(item / (K * L), (item / L) % K, item % L, true);
  }
};

}  // namespace vps
