// conv2d's float32 CPU forward of input layers (at most 4 input channels, output channels in blocks of
// 16: ResNet's stem) on CPUs with AVX-512: a direct kernel that writes our NCHW output itself.
//
// Why: oneDNN's kernel for few-channel inputs (layers/conv2d_dnnl.cpp, PyTorch's too) runs near this
// CPU's peak but writes channel-blocked output (nChw16c) that a second pass reorders to NCHW; on the
// stem at 224x224 that reorder was 0.10 of 0.72 ms. Here each tile of 32 output channels x 14 output
// columns sums in registers with the 16 channels of an output column in one vector (2 x 14
// accumulators, 2 weight vectors and 1 broadcast input value: 31 of the 32 registers); its column
// vectors go to a row buffer, and every 16 finished columns are transposed in registers into the 16
// channel rows of y while the next tile computes (the stores spread out, from L1).
//
// Each output is bias + the products summed over (c, kh, kw) in that order, all by one thread, with
// the work split over (image, output row): the same bits on any thread count. The input is copied
// once with its zero padding (and columns up to the last tile's reach), so the kernel has no edges.

// GCC 12 warns of the undefined pass-through operand inside its own AVX-512 shuffle intrinsics (a
// false positive at the header's lines): silenced for this file, before any header brings them in.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // the same at -O1 (DEBUG=1)
#endif
#include <omp.h>

#include <algorithm>
#include <vector>

#include "layers/conv2d.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VPS_INPUT_LAYER_KERNEL 1
#define VPS_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define VPS_INPUT_LAYER_KERNEL 0
#endif

namespace vps::conv_detail {

#if VPS_INPUT_LAYER_KERNEL
namespace {

constexpr int64_t kTileW = 14;  // output columns a tile sums at once (see the register count above)

struct InputLayerGeom {
  const ConvGeom& g;
  int64_t O, Hp, Wp;          // the padded input plane (Hp, Wp)
  int64_t taps;               // C * kh * kw
  const int64_t* tap_offset;  // tap (c, i, k) at c * Hp * Wp + i * dh * Wp + k * dw in the padded planes
};

// rowbuf[wo0 + j][o0 + 16 v + lane] = bias + sum over (c, i, k) of w * x, for the OV x 16 channels
// from o0 and the kTileW columns from wo0 of output row ho; xp: the image's padded planes (C, Hp, Wp),
// wt: the weights as (C * kh * kw, O). SW: the column stride when fixed at compile time (1, 2: the
// broadcasts at constant offsets), 0 for any.
template <int OV, int SW>
VPS_TARGET_AVX512 void sum_tile(const InputLayerGeom& q, const float* xp, const float* wt, const float* bias,
                                int64_t o0, int64_t ho, int64_t wo0, float* rowbuf) {
  // locals, not q's fields: the asm barrier below would reload those on every tap
  const int64_t taps = q.taps, O = q.O, sw = SW > 0 ? SW : q.g.sw;
  const int64_t* off = q.tap_offset;
  __m512 acc[OV][kTileW];
#pragma GCC unroll 2
  for (int v = 0; v < OV; ++v) {
    const __m512 b = _mm512_loadu_ps(bias + o0 + 16 * v);
#pragma GCC unroll 14
    for (int j = 0; j < kTileW; ++j) acc[v][j] = b;
  }
  // one loop over the taps (an offset table): nested (c, i, k) loops cost 7% more on the stem
  const float* wk = wt + o0;
  const float* base = xp + ho * q.g.sh * q.Wp + wo0 * sw;
  for (int64_t t = 0; t < taps; ++t, wk += O) {
    const float* xk = base + off[t];
    __m512 wv[OV];
#pragma GCC unroll 2
    for (int v = 0; v < OV; ++v) wv[v] = _mm512_loadu_ps(wk + 16 * v);
#pragma GCC unroll 14
    for (int j = 0; j < kTileW; ++j) {
      const __m512 xb = _mm512_set1_ps(xk[j * sw]);
#pragma GCC unroll 2
      for (int v = 0; v < OV; ++v) acc[v][j] = _mm512_fmadd_ps(wv[v], xb, acc[v][j]);
    }
    // GCC's predictive commoning would otherwise carry the broadcasts shared by taps k and k + 2
    // (stride 2) across iterations, spilling them and the accumulators to the stack (1.5x slower)
    asm volatile("" ::: "memory");
  }
#pragma GCC unroll 14
  for (int j = 0; j < kTileW; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < OV; ++v) _mm512_storeu_ps(rowbuf + (wo0 + j) * O + o0 + 16 * v, acc[v][j]);
}

template <int OV>
VPS_TARGET_AVX512 void sum_tile_any_stride(const InputLayerGeom& q, const float* xp, const float* wt,
                                           const float* bias, int64_t o0, int64_t ho, int64_t wo0, float* rowbuf) {
  if (q.g.sw == 2) sum_tile<OV, 2>(q, xp, wt, bias, o0, ho, wo0, rowbuf);
  else if (q.g.sw == 1) sum_tile<OV, 1>(q, xp, wt, bias, o0, ho, wo0, rowbuf);
  else sum_tile<OV, 0>(q, xp, wt, bias, o0, ho, wo0, rowbuf);
}

// dst[r][0 .. cols) = src[0 .. cols)[r] for r < 16: src rows of 16 floats at stride ss, dst rows at ds.
VPS_TARGET_AVX512 void transpose16(const float* src, int64_t ss, float* dst, int64_t ds, int cols) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * ss);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
  const __mmask16 m = __mmask16((1u << cols) - 1);
  for (int i = 0; i < 16; ++i) _mm512_mask_storeu_ps(dst + i * ds, m, r[i]);
}

// Output row ho of one image: y (O, Ho, Wo) of that image.
VPS_TARGET_AVX512 void output_row(const InputLayerGeom& q, const float* xp, const float* wt, const float* bias,
                                  int64_t ho, float* rowbuf, float* y) {
  const ConvGeom& g = q.g;
  const int64_t plane = g.Ho * g.Wo;
  for (int64_t o0 = 0; o0 < q.O;) {
    const int ov = q.O - o0 >= 32 ? 2 : 1;
    int64_t wb = 0;  // columns before wb are in y
    auto flush = [&](int64_t upto) {  // the finished 16-column blocks below `upto` (a partial one at Wo)
      for (; wb < upto; wb += 16)
        for (int v = 0; v < ov; ++v) {
          const int64_t o = o0 + 16 * v;
          transpose16(rowbuf + wb * q.O + o, q.O, y + o * plane + ho * g.Wo + wb, plane,
                      int(std::min<int64_t>(16, g.Wo - wb)));
        }
    };
    for (int64_t wo0 = 0; wo0 < g.Wo; wo0 += kTileW) {
      if (ov == 2) sum_tile_any_stride<2>(q, xp, wt, bias, o0, ho, wo0, rowbuf);
      else sum_tile_any_stride<1>(q, xp, wt, bias, o0, ho, wo0, rowbuf);
      flush(std::min(g.Wo, wo0 + kTileW) / 16 * 16);
    }
    flush(g.Wo);
    o0 += 16 * ov;
  }
}

}  // namespace
#endif

bool input_layer_kernel_applies(const ConvProblem& pb, DType dtype) {
#if VPS_INPUT_LAYER_KERNEL
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512 && is_input_layer(pb, dtype);
#else
  (void)pb, (void)dtype;
  return false;
#endif
}

void forward_input_layer_kernel(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias,
                                Tensor& y) {
#if VPS_INPUT_LAYER_KERNEL
  const ConvGeom& g = pb.g;
  const int64_t O = pb.O, C = g.C, tiles_w = (g.Wo + kTileW - 1) / kTileW;
  // the padded planes reach the last tile's columns (past Wo: computed, never stored)
  InputLayerGeom q{g, O, (g.Ho - 1) * g.sh + (g.kh - 1) * g.dh + 1,
                   (tiles_w * kTileW - 1) * g.sw + (g.kw - 1) * g.dw + 1, C * g.kh * g.kw, nullptr};
  std::vector<int64_t> tap_offset(q.taps);
  for (int64_t c = 0, t = 0; c < C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t k = 0; k < g.kw; ++k) tap_offset[t++] = (c * q.Hp + i * g.dh) * q.Wp + k * g.dw;
  q.tap_offset = tap_offset.data();
  const int64_t rows_total = pb.N * g.Ho, planes = pb.N * C;
  const int threads = int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), rows_total)));
  // one buffer: the padded input, the weights as (taps, O), the bias (zeros without one), a row buffer
  // per thread (rows past the tiles: read by a last partial transpose, never stored; zeroed); each part
  // at a multiple of 64 bytes (split weight loads and row-buffer stores: 4% slower on the stem)
  auto lines = [](int64_t n) { return (n + 15) / 16 * 16; };
  const int64_t rowbuf_rows = std::max(tiles_w * kTileW, lines(g.Wo)), rowbuf_size = rowbuf_rows * O;
  const int64_t xp_size = lines(planes * q.Hp * q.Wp), wt_size = q.taps * O;
  Tensor scratch = Tensor::empty({xp_size + wt_size + O + threads * rowbuf_size}, DType::f32, kCPU);
  float *xp = scratch.data<float>(), *wt = xp + xp_size, *bp = wt + wt_size, *rowbufs = bp + O;
  const float *xs = x.data<float>(), *ws = w.data<float>();
  for (int64_t t = 0; t < q.taps; ++t)
    for (int64_t o = 0; o < O; ++o) wt[t * O + o] = ws[o * q.taps + t];
  const Tensor bc = bias.defined() ? bias.contiguous() : bias;
  for (int64_t o = 0; o < O; ++o) bp[o] = bc.defined() ? bc.data<float>()[o] : 0.f;
  float* yp = y.data<float>();
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t r = 0; r < planes * q.Hp; ++r) {  // padded row r % Hp of plane r / Hp: input row - ph
      float* d = xp + r * q.Wp;
      const int64_t ih = r % q.Hp - g.ph;
      // padded columns [lo, hi) hold input columns [lo - pw, hi - pw), the others zeros
      const bool inside = ih >= 0 && ih < g.H;
      const int64_t lo = inside ? std::min(g.pw, q.Wp) : q.Wp, hi = std::max(lo, std::min(q.Wp, g.W + g.pw));
      std::fill(d, d + lo, 0.f);
      if (hi > lo) std::copy_n(xs + (r / q.Hp * g.H + ih) * g.W + lo - g.pw, hi - lo, d + lo);
      std::fill(d + hi, d + q.Wp, 0.f);
    }
    float* rowbuf = rowbufs + omp_get_thread_num() * rowbuf_size;
    std::fill(rowbuf + tiles_w * kTileW * O, rowbuf + rowbuf_size, 0.f);
#pragma omp for schedule(static)  // contiguous rows a thread (dynamic chunks: 13% slower on the stem)
    for (int64_t r = 0; r < rows_total; ++r) {
      const int64_t n = r / g.Ho;
      output_row(q, xp + n * C * q.Hp * q.Wp, wt, bp, r % g.Ho, rowbuf, yp + n * O * g.Ho * g.Wo);
    }
  }
#else
  (void)pb, (void)x, (void)w, (void)bias, (void)y;
  VPS_FAIL("conv2d: the input-layer kernel needs an x86-64 build with GCC");
#endif
}

}  // namespace vps::conv_detail
