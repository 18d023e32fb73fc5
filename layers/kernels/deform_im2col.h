// Deformable convolution v1 bodies (mmdetection v1's deform_conv_cuda_kernel.cu semantics, docs/dcn.md),
// shared by the CPU and CUDA builds: a tile's sample table, the channel-last deformable im2col, the
// offset gradient (col2im_coord, fused with the columns the weight gradient needs) and the input
// gradient (col2im as the exact adjoint of the bilinear sampling).
//
// Offsets of one image: (dg * 2 * K, Ho, Wo); for deformable group gd and tap k = i * kw + j,
// channel gd*2K + 2k is dy and gd*2K + 2k + 1 is dx. Sample point of output (ho, wo), tap (i, j):
//   py = ho * sh - ph + i * dh + dy,   px = wo * sw - pw + j * dw + dx.
// A sample is taken only when -1 < py < H and -1 < px < W (otherwise 0); bilinear with corners
// outside the image read as 0.
//
// Channel-last layout, so that every sample reads four contiguous rows of C values and every loop
// over channels is a contiguous (vectorisable) one:
//   xT (H * W, C): the input image transposed;
//   columns (L, C * K) for the output positions t0 + u, u in [0, L): row u, column g*K*Cg + k*Cg + cg
//   for channel c = g*Cg + cg of weight group g (Cg = C / groups), so a group's columns are one block;
//   the weight permuted to (O, K * Cg) in the same order, so y_g (Og, L) = Wp_g @ columns_g^T.
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
  int64_t groups = 1;              // weight groups (C % groups == 0)
  HD int64_t K() const { return kh * kw; }
  HD int64_t channels_per_dg() const { return C / dg; }
  HD int64_t channels_per_group() const { return C / groups; }
  // Column of (channel c, tap k) within a row of the channel-last columns.
  HD int64_t col(int64_t c, int64_t k) const {
    int64_t cg = channels_per_group();
    return c / cg * K() * cg + k * cg + c % cg;
  }
  // Channels in a run of constant weight group and deformable group: a divisor of both group sizes.
  HD int64_t run() const {
    int64_t a = channels_per_group(), b = channels_per_dg();
    while (b != 0) {
      int64_t t = a % b;
      a = b, b = t;
    }
    return a;
  }
};

template <class T>
HD inline bool deform_valid(T py, T px, int64_t H, int64_t W) {
  return py > T(-1) && px > T(-1) && py < T(H) && px < T(W);
}

// Sample coordinates of tap k at output position pos = ho * Wo + wo of deformable group gd (off: one
// image's offsets).
template <class T>
HD inline void deform_point(const DeformGeom& g, const T* off, int64_t gd, int64_t k, int64_t pos, T* py, T* px) {
  int64_t plane = g.Ho * g.Wo, ho = pos / g.Wo, wo = pos % g.Wo;
  int64_t ch = gd * 2 * g.K() + 2 * k;
  int64_t i = k / g.kw, j = k % g.kw;
  *py = T(ho * g.sh - g.ph + i * g.dh) + off[ch * plane + pos];
  *px = T(wo * g.sw - g.pw + j * g.dw) + off[(ch + 1) * plane + pos];
}

// A sample's four corners as pixel indices (-1 outside the image), bilinear weights and fractions,
// computed once per tile and shared by every channel of the deformable group (offsets are per group).
// require_valid: a point outside -1 < p < size gets no corners (mmdet's rule; forward and input
// gradient always use it). Otherwise the corners are tested one by one (torchvision's offset gradient).
template <class T>
struct DeformTap {
  int64_t idx[4];  // (y0, x0), (y0, x0+1), (y0+1, x0), (y0+1, x0+1)
  T w[4];
  T ly, lx;
  bool valid;
  HD void set(T py, T px, int64_t H, int64_t W, bool require_valid = true) {
    valid = deform_valid(py, px, H, W);
    if (require_valid && !valid) {
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
  // The rows of the four corners in a channel-last image (C values per pixel); `zero`, a row of C
  // zeros, stands for a corner outside the image, so the loops over channels have no branches.
  HD void rows(const T* xT, int64_t C, const T* zero, const T* r[4]) const {
    for (int q = 0; q < 4; ++q) r[q] = idx[q] >= 0 ? xT + idx[q] * C : zero;
  }
};

// The samples of output positions [t0, t0 + L): taps[(u * dg + gd) * K + k] (mmdet's validity rule).
template <class T>
struct DeformTapTableBody {
  DeformGeom g;
  const T* off;  // (dg*2K, Ho, Wo)
  DeformTap<T>* taps;
  int64_t t0, L;
  HD int64_t count() const { return L * g.dg * g.K(); }
  HD void operator()(int64_t item) const {
    int64_t K = g.K(), u = item / (g.dg * K), gd = item / K % g.dg, k = item % K;
    T py, px;
    deform_point(g, off, gd, k, t0 + u, &py, &px);
    taps[item].set(py, px, g.H, g.W);
  }
};

// Channel-last columns of the tile: one item per (u, k, chunk of `chunk` channels), the chunk inside
// one run (DeformGeom::run). CPU: chunk = run (a contiguous loop); CUDA: chunk 1, a thread per entry,
// consecutive threads on consecutive channels (meant to coalesce; never run on a GPU).
template <class T, class Out = T>
struct DeformIm2colBody {
  DeformGeom g;
  const DeformTap<T>* taps;
  const T* xT;    // (H*W, C)
  const T* zero;  // C zeros
  Out* col;       // (L, C*K): T, or bf16 for bf16 products (each sample rounded as it is stored)
  int64_t L, chunk;
  HD int64_t chunks() const { return g.C / chunk; }
  HD int64_t count() const { return L * g.K() * chunks(); }
  HD void operator()(int64_t item) const {
    int64_t K = g.K(), nq = chunks(), c0 = item % nq * chunk, k = item / nq % K, u = item / nq / K;
    const DeformTap<T>& t = taps[(u * g.dg + c0 / g.channels_per_dg()) * K + k];
    const T* r[4];
    t.rows(xT, g.C, zero, r);
    Out* __restrict__ out = col + u * g.C * K + g.col(c0, k);
    const T* __restrict__ r0 = r[0] + c0;
    const T* __restrict__ r1 = r[1] + c0;
    const T* __restrict__ r2 = r[2] + c0;
    const T* __restrict__ r3 = r[3] + c0;
    const T w0 = t.w[0], w1 = t.w[1], w2 = t.w[2], w3 = t.w[3];  // locals: the stores could alias them
    for (int64_t j = 0; j < chunk; ++j) out[j] = Out(w0 * r0[j] + w1 * r1[j] + w2 * r2[j] + w3 * r3[j]);
  }
};

// Offset gradient of the tile, with the columns recomputed in the same pass over the corners (the
// weight gradient multiplies them): one item per (u, gd, k), summing over the channels of deformable
// group gd. mmdet_rule: a sample outside -1 < p < size gets 0 for both coordinates (mmdetection v1);
// otherwise torchvision's rule, which keeps the per-corner tests only (it differs exactly at p == -1,
// where its derivative is one-sided). The sums use 8 partial accumulators (a fixed order, vectorisable).
template <class T>
struct DeformOffsetGradBody {
  DeformGeom g;
  const DeformTap<T>* taps;
  const T* off;   // (dg*2K, Ho, Wo)
  const T* xT;    // (H*W, C)
  const T* zero;  // C zeros
  const T* gcol;  // (L, C*K)
  T* col;         // (L, C*K), written
  T* goff;        // (dg*2K, Ho, Wo)
  int64_t t0, L;
  bool mmdet_rule;
  HD int64_t count() const { return L * g.dg * g.K(); }
  // Adds sum_c gc * d/dp over the channels [c0, c0 + n) of one run to (sy, sx); writes the columns when
  // `out` is set. The tap's numbers are copied to locals: the stores could alias them otherwise.
  HD static void run_sums(const DeformTap<T>& t, const T* const r[4], const T* __restrict__ gc, T* __restrict__ out,
                          int64_t c0, int64_t n, T* sy, T* sx) {
    const T w0 = t.w[0], w1 = t.w[1], w2 = t.w[2], w3 = t.w[3], lx = t.lx, ly = t.ly, mx = T(1) - lx, my = T(1) - ly;
    const T* __restrict__ r0 = r[0] + c0;
    const T* __restrict__ r1 = r[1] + c0;
    const T* __restrict__ r2 = r[2] + c0;
    const T* __restrict__ r3 = r[3] + c0;
    T ay[8] = {}, ax[8] = {};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
      for (int e = 0; e < 8; ++e) {
        T v0 = r0[j + e], v1 = r1[j + e], v2 = r2[j + e], v3 = r3[j + e];
        if (out) out[j + e] = w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3;
        ay[e] += gc[j + e] * (-mx * v0 - lx * v1 + mx * v2 + lx * v3);
        ax[e] += gc[j + e] * (-my * v0 + my * v1 - ly * v2 + ly * v3);
      }
    for (; j < n; ++j) {
      T v0 = r0[j], v1 = r1[j], v2 = r2[j], v3 = r3[j];
      if (out) out[j] = w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3;
      ay[0] += gc[j] * (-mx * v0 - lx * v1 + mx * v2 + lx * v3);
      ax[0] += gc[j] * (-my * v0 + my * v1 - ly * v2 + ly * v3);
    }
    *sy += ((ay[0] + ay[1]) + (ay[2] + ay[3])) + ((ay[4] + ay[5]) + (ay[6] + ay[7]));
    *sx += ((ax[0] + ax[1]) + (ax[2] + ax[3])) + ((ax[4] + ax[5]) + (ax[6] + ax[7]));
  }
  HD void operator()(int64_t item) const {
    int64_t K = g.K(), u = item / (g.dg * K), gd = item / K % g.dg, k = item % K, run = g.run();
    int64_t cpg = g.channels_per_dg(), row = u * g.C * K, plane = g.Ho * g.Wo;
    const DeformTap<T>& t = taps[item];
    const T* r[4];
    t.rows(xT, g.C, zero, r);
    T sy = T(0), sx = T(0);
    for (int64_t c0 = gd * cpg; c0 < (gd + 1) * cpg; c0 += run) {
      int64_t at = row + g.col(c0, k);
      if (t.valid || mmdet_rule) {  // invalid under mmdet: zero columns (zero rows) and zero sums
        run_sums(t, r, gcol + at, col + at, c0, run, &sy, &sx);
      } else {  // torchvision's rule at an invalid point: the columns are 0, the derivative per corner
        for (int64_t j = 0; j < run; ++j) col[at + j] = T(0);
        T py, px;
        deform_point(g, off, gd, k, t0 + u, &py, &px);
        DeformTap<T> loose;
        loose.set(py, px, g.H, g.W, false);
        const T* lr[4];
        loose.rows(xT, g.C, zero, lr);
        run_sums(loose, lr, gcol + at, nullptr, c0, run, &sy, &sx);
      }
    }
    if (mmdet_rule && !t.valid) sy = sx = T(0);
    int64_t ch = gd * 2 * K + 2 * k;
    goff[ch * plane + t0 + u] = sy;
    goff[(ch + 1) * plane + t0 + u] = sx;
  }
};

// Input gradient of the tile, the adjoint of DeformIm2colBody: each valid sample adds gcol times its
// corner weights into the corners' rows of gxT (H*W, C).
// CPU: one item per block of `block` channels (any size: cut at run boundaries), over every
// (u, k) of the tile, so a thread owns the columns of gxT it writes: no atomics, the same sums on every
// run. CUDA (atomic): one item per column entry (u, k, c), consecutive threads on consecutive channels.
template <class T, bool ATOMIC>
struct DeformCol2imBody {
  DeformGeom g;
  const DeformTap<T>* taps;
  const T* gcol;  // (L, C*K)
  T* gxT;         // (H*W, C), accumulated into
  int64_t L, block;
  HD int64_t blocks() const { return (g.C + block - 1) / block; }
  HD int64_t count() const { return ATOMIC ? L * g.K() * g.C : blocks(); }
  // Channels [c0, c0 + n) of one run at (u, k).
  HD void scatter(int64_t u, int64_t k, int64_t c0, int64_t n) const {
    int64_t K = g.K();
    const DeformTap<T>& t = taps[(u * g.dg + c0 / g.channels_per_dg()) * K + k];
    const T* __restrict__ gc = gcol + u * g.C * K + g.col(c0, k);
    for (int q = 0; q < 4; ++q) {
      if (t.idx[q] < 0) continue;
      T* __restrict__ dst = gxT + t.idx[q] * g.C + c0;
      const T wq = t.w[q];
      if (ATOMIC)
        for (int64_t j = 0; j < n; ++j) atomic_add(&dst[j], gc[j] * wq);
      else
        for (int64_t j = 0; j < n; ++j) dst[j] += gc[j] * wq;
    }
  }
  HD void operator()(int64_t item) const {
    int64_t K = g.K();
    if (ATOMIC) {
      scatter(item / g.C / K, item / g.C % K, item % g.C, 1);
      return;
    }
    int64_t c0 = item * block, c1 = c0 + block < g.C ? c0 + block : g.C, run = g.run();
    for (int64_t u = 0; u < L; ++u)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = c0; c < c1;) {  // pieces of the block that stay inside one run
          int64_t end = (c / run + 1) * run;
          end = end < c1 ? end : c1;
          scatter(u, k, c, end - c);
          c = end;
        }
  }
};

// One image's transpose src (cols, rows) -> dst (rows, cols): to channel-last, (C, H*W) -> (H*W, C),
// and back. CPU (SPAN 16): one item per block of SPAN destination rows, reading SPAN contiguous source
// values per column; CUDA (SPAN 0): one item per destination entry (coalesced writes).
template <class T, int SPAN>
struct DeformTransposeBody {
  const T* src;
  T* dst;
  int64_t rows, cols;
  HD int64_t count() const { return SPAN ? (rows + SPAN - 1) / SPAN : rows * cols; }
  HD void operator()(int64_t item) const {
    if (SPAN == 0) {
      dst[item] = src[item % cols * rows + item / cols];
      return;
    }
    int64_t r0 = item * SPAN, r1 = r0 + SPAN < rows ? r0 + SPAN : rows;
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t r = r0; r < r1; ++r) dst[r * cols + c] = src[c * rows + r];
  }
};

// The CPU tile's columns straight in bf16 for bf16 products (layers/deform_im2col_bf16.cpp):
// DeformIm2colBody<float, bf16> built for AVX-512, AVX2 and the baseline, one picked by the CPU at load
// time (the vector clones may fuse the bilinear sums into FMAs: the bits follow the CPU, never the
// thread count).
void deform_im2col_bf16(const DeformGeom& g, const DeformTap<float>* taps, const float* xT, const float* zero,
                        bf16* col, int64_t L);

}  // namespace vps
