// conv2d's float32 CPU forward by Winograd's F(2x2, 3x3) for 3x3 stride-1 convs with large weights:
// each 2x2 block of outputs ("tile") from a 4x4 block of input, 16 products per tile and channel pair
// instead of 36, i.e. 2.25x fewer multiply-adds. Per chunk of tile rows (fixed by the shape, one
// thread each: the same bits on any thread count):
//   V[c][xi][t] = (B^T d B)[xi]  for the 4x4 input block d of tile t, channel c   (input transform)
//   M[.][xi] (O, T) = U[.][xi] (O, C) @ V[.][xi] (C, T), one GEMM per xi = 0..15  (U = G g G^T, per call)
//   y block of tile t, channel o = A^T M[.][o][t] A + bias[o]                  (output transform)
// with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
// A^T = [1 1 1 0; 0 1 -1 -1] (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks").
// The transforms run along rows of tiles with unit-stride inner loops (an AVX2 clone where the CPU
// has it). The products are the same GEMM as the direct path's; the transforms add and subtract only,
// so the error stays of the direct sum's order (tests/test_conv2d.cpp bounds it).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "layers/conv2d.h"
#include "tensor/blas.h"

namespace vps::conv_detail {
namespace {

constexpr int64_t kTilesPerChunk = 256;  // about: whole tile rows, V and M of 16 * 256 * 256 floats each
// Below this many tiles (ResNet's 7x7 and 14x14 maps at batch 1) the products are too thin for the
// transforms to pay: 512 channels at 7x7 took 5.9 ms against the direct path's 2.3.
constexpr int64_t kMinTiles = 256;

// U[o][xi][c] = (G g G^T)[xi] for the 3x3 kernel g = w[o][c]. (Layouts with xi outermost put the 16
// rows a tile touches 4 KB-multiples apart: the same cache sets, 3-4x slower transforms.)
void transform_weights(const float* w, float* U, int64_t O, int64_t C) {
  const int64_t OC = O * C;
#pragma omp parallel for schedule(static)
  for (int64_t oc = 0; oc < OC; ++oc) {
    const float* g = w + oc * 9;
    float* u = U + (oc / C) * 16 * C + oc % C;
    float Gg[4][3];
    for (int j = 0; j < 3; ++j) {
      Gg[0][j] = g[j];
      Gg[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
      Gg[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
      Gg[3][j] = g[6 + j];
    }
    for (int r = 0; r < 4; ++r) {
      const float a = Gg[r][0], b = Gg[r][1], c = Gg[r][2];
      u[(4 * r + 0) * C] = a;
      u[(4 * r + 1) * C] = 0.5f * (a + b + c);
      u[(4 * r + 2) * C] = 0.5f * (a - b + c);
      u[(4 * r + 3) * C] = c;
    }
  }
}

// Input transform of one row of tw tiles of channel plane xc (H, W): output rows 2*ti, 2*ti + 1, input
// rows 2*ti - ph + r (r < 4), columns 2*tj - pw + s (s < 4). Each input row is first split into its
// even and odd columns (zero outside the image), so that tile tj reads columns tj and tj + 1 of both:
// unit-stride loops. pad: 8 * (tw + 1) floats of scratch. V row xi at V + xi * vstride, tile tj at [tj].
VPS_AVX2_CLONE void input_row(const float* xc, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t ti, int64_t tw,
                              float* __restrict__ pad, float* __restrict__ V, int64_t vstride) {
  const int64_t half = tw + 1;  // padded row k = 2 * j + parity, column k - pw
  for (int r = 0; r < 4; ++r) {
    float* __restrict__ pe = pad + 2 * r * half;
    float* __restrict__ po = pe + half;
    const int64_t h = 2 * ti - ph + r;
    if (h < 0 || h >= H) {
      std::fill(pe, pe + 2 * half, 0.f);
      continue;
    }
    const float* src = xc + h * W - pw;  // src[k] is padded column k (valid for pw <= k < W + pw)
    // j with both 2j and 2j + 1 inside [pw, W + pw): [jlo, jhi)
    const int64_t jlo = std::min(half, (pw + 1) / 2), jhi = std::max(jlo, std::min(half, (W + pw) / 2));
    auto edge = [&](int64_t j) {  // a column pair that may lie in the padding
      const int64_t k = 2 * j;
      pe[j] = k >= pw && k < W + pw ? src[k] : 0.f;
      po[j] = k + 1 >= pw && k + 1 < W + pw ? src[k + 1] : 0.f;
    };
    for (int64_t j = 0; j < jlo; ++j) edge(j);
    for (int64_t j = jlo; j < jhi; ++j) pe[j] = src[2 * j], po[j] = src[2 * j + 1];
    for (int64_t j = jhi; j < half; ++j) edge(j);
  }
  const float *e0 = pad, *o0 = e0 + half, *e1 = pad + 2 * half, *o1 = e1 + half;
  const float *e2 = pad + 4 * half, *o2 = e2 + half, *e3 = pad + 6 * half, *o3 = e3 + half;
  const int64_t vs = vstride;
  for (int64_t tj = 0; tj < tw; ++tj) {
    // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3; d_r = (e_r[tj], o_r[tj], e_r[tj + 1], o_r[tj + 1])
    const float a0 = e0[tj] - e2[tj], a1 = o0[tj] - o2[tj], a2 = e0[tj + 1] - e2[tj + 1], a3 = o0[tj + 1] - o2[tj + 1];
    const float b0 = e1[tj] + e2[tj], b1 = o1[tj] + o2[tj], b2 = e1[tj + 1] + e2[tj + 1], b3 = o1[tj + 1] + o2[tj + 1];
    const float c0 = e2[tj] - e1[tj], c1 = o2[tj] - o1[tj], c2 = e2[tj + 1] - e1[tj + 1], c3 = o2[tj + 1] - o1[tj + 1];
    const float d0 = e1[tj] - e3[tj], d1 = o1[tj] - o3[tj], d2 = e1[tj + 1] - e3[tj + 1], d3 = o1[tj + 1] - o3[tj + 1];
    // (.) B: columns t0 - t2, t1 + t2, t2 - t1, t1 - t3; V row xi = 4 * row + column
    V[0 * vs + tj] = a0 - a2, V[1 * vs + tj] = a1 + a2, V[2 * vs + tj] = a2 - a1, V[3 * vs + tj] = a1 - a3;
    V[4 * vs + tj] = b0 - b2, V[5 * vs + tj] = b1 + b2, V[6 * vs + tj] = b2 - b1, V[7 * vs + tj] = b1 - b3;
    V[8 * vs + tj] = c0 - c2, V[9 * vs + tj] = c1 + c2, V[10 * vs + tj] = c2 - c1, V[11 * vs + tj] = c1 - c3;
    V[12 * vs + tj] = d0 - d2, V[13 * vs + tj] = d1 + d2, V[14 * vs + tj] = d2 - d1, V[15 * vs + tj] = d1 - d3;
  }
}

// Output transform of one row of tw tiles of output channel plane yo (Ho, Wo): M rows xi at
// M + xi * mstride; out: 2 rows of 2*tw floats (scratch) when Wo is odd, else unused.
VPS_AVX2_CLONE void output_row(const float* __restrict__ M, int64_t mstride, float b, float* yo, int64_t Ho,
                               int64_t Wo, int64_t ti, int64_t tw, float* __restrict__ out) {
  const bool direct = Wo == 2 * tw;
  float* r0 = direct ? yo + 2 * ti * Wo : out;
  float* r1 = direct && 2 * ti + 1 < Ho ? r0 + Wo : out + 2 * tw;
  for (int64_t tj = 0; tj < tw; ++tj) {
    float m[16];
    for (int xi = 0; xi < 16; ++xi) m[xi] = M[xi * mstride + tj];
    float a[2][4];  // A^T m
    for (int s = 0; s < 4; ++s) {
      a[0][s] = m[s] + m[4 + s] + m[8 + s];
      a[1][s] = m[4 + s] - m[8 + s] - m[12 + s];
    }
    r0[2 * tj] = a[0][0] + a[0][1] + a[0][2] + b;
    r0[2 * tj + 1] = a[0][1] - a[0][2] - a[0][3] + b;
    r1[2 * tj] = a[1][0] + a[1][1] + a[1][2] + b;
    r1[2 * tj + 1] = a[1][1] - a[1][2] - a[1][3] + b;
  }
  if (!direct) {
    std::copy(out, out + Wo, yo + 2 * ti * Wo);
    if (2 * ti + 1 < Ho) std::copy(out + 2 * tw, out + 2 * tw + Wo, yo + (2 * ti + 1) * Wo);
  }
}

}  // namespace

bool winograd_applies(const ConvProblem& pb, DType dtype) {
  const ConvGeom& g = pb.g;
  return dtype == DType::f32 && pb.groups == 1 && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 &&
         g.dw == 1 && pb.O * g.col_rows() >= kLargeConvWeight && g.C >= 64 &&
         pb.N * ((g.Ho + 1) / 2) * ((g.Wo + 1) / 2) >= kMinTiles;
}

void forward_winograd(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y) {
  const ConvGeom& g = pb.g;
  const int64_t O = pb.O, C = g.C, th = (g.Ho + 1) / 2, tw = (g.Wo + 1) / 2;
  const int64_t rows_total = pb.N * th;                                     // tile rows over the batch
  // at most kTilesPerChunk tiles, and kTileSlots chunks where the map allows (balanced threads)
  const int64_t rows_per = std::max<int64_t>(
      1, std::min({rows_total, kTilesPerChunk / tw, (rows_total + kTileSlots - 1) / kTileSlots}));
  const int64_t chunks = (rows_total + rows_per - 1) / rows_per, T = rows_per * tw;
  Tensor U = Tensor::empty({O, 16, C}, DType::f32, kCPU);
  transform_weights(w.data<float>(), U.data<float>(), O, C);
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  const int threads = int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), chunks)));
  const int64_t per_thread = 16 * (C + O) * T + 8 * (tw + 1);
  Tensor scratch = Tensor::empty({threads, per_thread}, DType::f32, kCPU);
  const float *xp = x.data<float>(), *Up = U.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    float* V = scratch.data<float>() + omp_get_thread_num() * per_thread;
    float* M = V + 16 * C * T;
    float* pad = M + 16 * O * T;
    const int64_t r0 = ch * rows_per, nr = std::min(rows_per, rows_total - r0), Tc = nr * tw;
    // V[c][xi][t], M[o][xi][t]: GEMM xi reads rows of 16 * Tc floats from offset xi * Tc
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < nr; ++i) {
        const int64_t n = (r0 + i) / th, ti = (r0 + i) % th;
        input_row(xp + (n * C + c) * g.H * g.W, g.H, g.W, g.ph, g.pw, ti, tw, pad, V + c * 16 * Tc + i * tw, Tc);
      }
    blas::gemm_batched<float>(Device(), false, false, O, Tc, C, 1.f, Up, 16 * C, C, V, 16 * Tc, Tc, 0.f, M, 16 * Tc,
                              Tc, 16);
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < nr; ++i) {
        const int64_t n = (r0 + i) / th, ti = (r0 + i) % th;
        output_row(M + o * 16 * Tc + i * tw, Tc, bp ? bp[o] : 0.f, yp + (n * O + o) * g.Ho * g.Wo, g.Ho, g.Wo, ti, tw,
                   pad);
      }
  }
}

}  // namespace vps::conv_detail
