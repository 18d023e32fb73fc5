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

// A sample's four corners as plane indices (-1 outside the image), bilinear weights and fractions,
// computed once and shared by every channel of the deformable group (offsets are per group).
// require_valid: a point outside -1 < p < size gets no corners (mmdet's rule; forward and input
// gradient always use it). Otherwise the corners are tested one by one (torchvision's offset gradient).
template <class T>
struct DeformTap {
  int64_t idx[4];  // (y0, x0), (y0, x0+1), (y0+1, x0), (y0+1, x0+1)
  T w[4];
  T ly, lx;
  HD void set(T py, T px, int64_t H, int64_t W, bool require_valid = true) {
    if (require_valid && !deform_valid(py, px, H, W)) {
      for (int q = 0; q < 4; ++q) idx[q] = -1, w[q] = T(0);
      ly = lx = T(0);
      return;
    }
    T fy = ::floor(py), fx = ::floor(px);
    int64_t y0 = int64_t(fy), x0 = int64_t(fx);
    ly = py - fy, lx = px - fx;
    bool top = y0 >= 0 && y0 <= H - 1, left = x0 >= 0 && x0 <= W - 1;
    bool bottom = y0 + 1 >= 0 && y0 + 1 <= H - 1, right = x0 + 1 >= 0 && x0 + 1 <= W - 1;
    idx[0] = top && left ? y0 * W + x0 : -1;
    idx[1] = top && right ? y0 * W + x0 + 1 : -1;
    idx[2] = bottom && left ? (y0 + 1) * W + x0 : -1;
    idx[3] = bottom && right ? (y0 + 1) * W + x0 + 1 : -1;
    w[0] = (T(1) - ly) * (T(1) - lx), w[1] = (T(1) - ly) * lx, w[2] = ly * (T(1) - lx), w[3] = ly * lx;
  }
  HD void corners(const T* xc, T v[4]) const {
    for (int q = 0; q < 4; ++q) v[q] = idx[q] >= 0 ? xc[idx[q]] : T(0);
  }
  // The bilinear value, (1-ly)(1-lx) v00 + (1-ly) lx v01 + ly (1-lx) v10 + ly lx v11.
  HD T value(const T* xc) const {
    T v[4];
    corners(xc, v);
    return w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3];
  }
  // d value / d py and d value / d px at the point (one-sided, from the right, at integer coordinates).
  HD T d_py(const T v[4]) const { return -(T(1) - lx) * v[0] - lx * v[1] + (T(1) - lx) * v[2] + lx * v[3]; }
  HD T d_px(const T v[4]) const { return -(T(1) - ly) * v[0] + (T(1) - ly) * v[1] - ly * v[2] + ly * v[3]; }
};

// Columns of output positions [t0, t0 + L) of one image: col (C*K, L), row c*K + k. One item per
// (gd, span of SPAN columns): per tap k the span's samples are computed once, then each channel of
// group gd gathers them (CPU: SPAN 64, contiguous writes; CUDA: SPAN 1, a thread per column, coalesced).
template <class T, int SPAN>
struct DeformIm2colBody {
  DeformGeom g;
  const T* x;    // (C, H, W)
  const T* off;  // (dg*2K, Ho, Wo)
  T* col;
  int64_t t0, L;  // output positions [t0, t0 + L) of the plane (ho * Wo + wo)
  HD int64_t spans() const { return (L + SPAN - 1) / SPAN; }
  HD int64_t count() const { return g.dg * spans(); }
  HD void operator()(int64_t item) const {
    int64_t K = g.K(), ns = spans();
    int64_t s = item % ns, gd = item / ns;
    int64_t u0 = s * SPAN, n = L - u0 < SPAN ? L - u0 : SPAN, cpg = g.channels_per_dg();
    DeformTap<T> tap[SPAN] = {};  // zeroed: the compiler cannot see that only the first n are read
    for (int64_t k = 0; k < K; ++k) {  // all taps of a span together: x's lines stay in cache
      for (int64_t u = 0; u < n; ++u) {
        int64_t p = t0 + u0 + u;
        T py, px;
        deform_point(g, off, gd, k, p / g.Wo, p % g.Wo, &py, &px);
        tap[u].set(py, px, g.H, g.W);
      }
      for (int64_t c = gd * cpg; c < (gd + 1) * cpg; ++c) {
        const T* xc = x + c * g.H * g.W;
        T* out = col + (c * K + k) * L + u0;
        for (int64_t u = 0; u < n; ++u) out[u] = tap[u].value(xc);
      }
    }
  }
};

// Offset gradient of output positions [t0, t0 + L): one item per (gd, span of SPAN columns), summing
// over the channels of deformable group gd per tap (CPU: SPAN 64, gcol read contiguously; CUDA: SPAN
// 1). mmdet_rule: a sample outside -1 < p < size gets 0 for both coordinates (mmdetection v1);
// otherwise torchvision's rule, which keeps the per-corner tests only (it differs exactly at p == -1,
// where its derivative is one-sided).
template <class T, int SPAN>
struct DeformOffsetGradBody {
  DeformGeom g;
  const T* x;     // (C, H, W)
  const T* off;   // (dg*2K, Ho, Wo)
  const T* gcol;  // (C*K, L)
  T* goff;        // (dg*2K, Ho, Wo)
  int64_t t0, L;  // output positions [t0, t0 + L) of the plane (ho * Wo + wo)
  bool mmdet_rule;
  HD int64_t spans() const { return (L + SPAN - 1) / SPAN; }
  HD int64_t count() const { return g.dg * spans(); }
  HD void operator()(int64_t item) const {
    int64_t K = g.K(), ns = spans(), s = item % ns, gd = item / ns, cpg = g.channels_per_dg();
    int64_t u0 = s * SPAN, n = L - u0 < SPAN ? L - u0 : SPAN, plane = g.Ho * g.Wo;
    DeformTap<T> tap[SPAN] = {};  // zeroed: the compiler cannot see that only the first n are read
    bool live[SPAN] = {};
    T sy[SPAN] = {}, sx[SPAN] = {};
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t u = 0; u < n; ++u) {
        int64_t p = t0 + u0 + u;
        T py, px;
        deform_point(g, off, gd, k, p / g.Wo, p % g.Wo, &py, &px);
        live[u] = !mmdet_rule || deform_valid(py, px, g.H, g.W);
        tap[u].set(py, px, g.H, g.W, mmdet_rule);
        sy[u] = T(0), sx[u] = T(0);
      }
      for (int64_t c = gd * cpg; c < (gd + 1) * cpg; ++c) {
        const T* xc = x + c * g.H * g.W;
        const T* gc = gcol + (c * K + k) * L + u0;
        for (int64_t u = 0; u < n; ++u) {
          if (!live[u]) continue;
          T v[4];
          tap[u].corners(xc, v);
          sy[u] += gc[u] * tap[u].d_py(v);
          sx[u] += gc[u] * tap[u].d_px(v);
        }
      }
      int64_t ch = gd * 2 * K + 2 * k;
      for (int64_t u = 0; u < n; ++u) {
        goff[ch * plane + t0 + u0 + u] = sy[u];
        goff[(ch + 1) * plane + t0 + u0 + u] = sx[u];
      }
    }
  }
};

// Input gradient of output positions [t0, t0 + L), the adjoint of DeformIm2colBody: each valid sample
// adds gcol times its corner weights into gx's plane.
// CPU: one item per block of CB channels, so a thread owns the planes it writes (no atomics, the same
// sums on every run); the taps of a span of SPAN columns are computed once per block.
template <class T, int SPAN, int CB>
struct DeformCol2imCpuBody {
  DeformGeom g;
  const T* off;   // (dg*2K, Ho, Wo)
  const T* gcol;  // (C*K, L)
  T* gx;          // (C, H, W), accumulated into
  int64_t t0, L;  // output positions [t0, t0 + L) of the plane (ho * Wo + wo)
  HD int64_t count() const { return (g.C + CB - 1) / CB; }
  HD void operator()(int64_t item) const {
    int64_t K = g.K(), c0 = item * CB, c1 = c0 + CB < g.C ? c0 + CB : g.C;
    int64_t cpg = g.channels_per_dg();
    DeformTap<T> tap[SPAN] = {};  // zeroed: the compiler cannot see that only the first n are read
    for (int64_t k = 0; k < K; ++k)
      for (int64_t u0 = 0; u0 < L; u0 += SPAN) {
        int64_t n = L - u0 < SPAN ? L - u0 : SPAN, gd_tap = -1;
        for (int64_t c = c0; c < c1; ++c) {
          int64_t gd = c / cpg;
          if (gd != gd_tap) {  // the block's channels share the taps of their deformable group
            for (int64_t u = 0; u < n; ++u) {
              int64_t p = t0 + u0 + u;
              T py, px;
              deform_point(g, off, gd, k, p / g.Wo, p % g.Wo, &py, &px);
              tap[u].set(py, px, g.H, g.W);
            }
            gd_tap = gd;
          }
          const T* gc = gcol + (c * K + k) * L + u0;
          T* gxc = gx + c * g.H * g.W;
          for (int64_t u = 0; u < n; ++u)
            for (int q = 0; q < 4; ++q)
              if (tap[u].idx[q] >= 0) gxc[tap[u].idx[q]] += gc[u] * tap[u].w[q];
        }
      }
  }
};

// CUDA: one item per column entry (c*K + k, t), atomic adds.
template <class T>
struct DeformCol2imCudaBody {
  DeformGeom g;
  const T* off;
  const T* gcol;
  T* gx;
  int64_t t0, L;  // output positions [t0, t0 + L) of the plane (ho * Wo + wo)
  HD int64_t count() const { return g.C * g.K() * L; }
  HD void operator()(int64_t item) const {
    int64_t K = g.K();
    int64_t c = item / (K * L), k = (item / L) % K, t = item % L, p = t0 + t;
    T py, px;
    deform_point(g, off, c / g.channels_per_dg(), k, p / g.Wo, p % g.Wo, &py, &px);
    DeformTap<T> tap;
    tap.set(py, px, g.H, g.W);
    T v = gcol[item];
    T* gxc = gx + c * g.H * g.W;
    for (int q = 0; q < 4; ++q)
      if (tap.idx[q] >= 0) atomic_add(&gxc[tap.idx[q]], v * tap.w[q]);
  }
};

}  // namespace vps
