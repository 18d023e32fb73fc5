// CPU-only pieces of conv2d: the column tile fill (an AVX2 clone), and the backward passes for large
// weights (groups 1, at least kLargeConvWeight elements), where the tiled sweep of conv2d.cu costs more
// than its products: its weight gradient sums kTileSlots
// partials of the whole weight (each tile's GEMM reads and writes one, with a short inner dimension),
// and its input gradient scatters a column tile per output tile (col2im). Here:
// - weight gradient by blocks of gw, without partials: a 1x1 stride-1 conv by blocks of output
//   channels (rows of gw, the input itself is the column matrix); any other by blocks of input
//   channels (columns of gw), each block filling the column rows of its own channels in chunks of
//   output rows and accumulating the chunks' products in image and row order;
// - input gradient of a stride-1 conv as the forward conv of gy with the weight transposed and
//   flipped (padding d*(k-1) - p gives back H x W): the tiled forward, no col2im.
// Block counts and chunk sizes depend on the shape only: the same bits on any thread count.
#include <omp.h>

#include <algorithm>

#include "layers/conv2d.h"
#include "tensor/blas.h"

namespace vps::conv_detail {

template <class T>
VPS_AVX2_CLONE void im2col_tile_cpu(const Im2colBody<T>& body) {
  const ConvGeom& g = body.g;
  for (int64_t c = 0, r = 0; c < g.C; ++c)
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t j = 0; j < g.kw; ++j, ++r) {
        int64_t lo, hi;
        g.inside_cols(j, 0, g.Wo, lo, hi);
        for (int64_t ohr = 0; ohr < body.tile_rows(); ++ohr) body.fill(r, c, ki, j, ohr, 0, g.Wo, lo, hi);
      }
}
template void im2col_tile_cpu<float>(const Im2colBody<float>&);
template void im2col_tile_cpu<double>(const Im2colBody<double>&);

namespace {

bool large_weight(const ConvProblem& pb) {
  return pb.groups == 1 && pb.O * pb.g.col_rows() >= kLargeConvWeight;
}

// Rows [o0, o1) of gw = sum over images of gy_n @ x_n^T, in image order (1x1, stride 1, no padding).
template <class T>
void pointwise_weight_grad_by_rows(const ConvProblem& pb, const T* xp, const T* gyp, T* gwp) {
  const int64_t O = pb.O, C = pb.g.C, L = pb.g.col_cols();
  const int64_t blocks = std::min<int64_t>(kTileSlots, O), per = (O + blocks - 1) / blocks;
  const int threads = int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), blocks)));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t o0 = b * per, m = std::min(per, O - o0);
    if (m <= 0) continue;
    if (pb.N == 0) std::fill(gwp + o0 * C, gwp + (o0 + m) * C, T(0));
    for (int64_t n = 0; n < pb.N; ++n)
      blas::gemm_batched<T>(Device(), false, true, m, C, L, T(1), gyp + (n * O + o0) * L, L, 0, xp + n * C * L, L, 0,
                            T(n == 0 ? 0 : 1), gwp + o0 * C, C, 0, 1);
  }
}

// Columns [c0*kh*kw, c1*kh*kw) of gw (O, C*kh*kw) = sum over images and chunks of output rows of
// gy_chunk @ col_chunk^T, col_chunk holding only channels [c0, c1).
template <class T>
void weight_grad_by_channel_blocks(const ConvProblem& pb, const T* xp, const T* gyp, T* gwp) {
  const ConvGeom& g = pb.g;
  const int64_t O = pb.O, C = g.C, taps = g.kh * g.kw, K = C * taps, L = g.col_cols();
  const int64_t blocks = std::min<int64_t>(kTileSlots, C), per = (C + blocks - 1) / blocks;
  const int64_t row_bytes = std::max<int64_t>(1, per * taps * g.Wo * int64_t(sizeof(T)));
  const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(g.Ho, std::max<int64_t>(1, pb.cpu_tile_kb) * 1024 / row_bytes));
  const int64_t tile = per * taps * rows * g.Wo;
  const int threads = int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), blocks)));
  Tensor bufs = Tensor::empty({threads, tile}, dtype_of<T>::value, kCPU);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * per, cb = std::min(per, C - c0);
    if (cb <= 0) continue;
    ConvGeom gb = g;
    gb.C = cb;
    T* buf = bufs.data<T>() + omp_get_thread_num() * tile;
    T* gwb = gwp + c0 * taps;
    bool first = true;
    for (int64_t n = 0; n < pb.N; ++n)
      for (int64_t oh0 = 0; oh0 < g.Ho; oh0 += rows, first = false) {
        const int64_t R = std::min(rows, g.Ho - oh0), cols = R * g.Wo;
        im2col_tile_cpu(Im2colBody<T>{gb, xp + (n * C + c0) * g.H * g.W, buf, g.Wo, oh0, R, cols});
        blas::gemm_batched<T>(Device(), false, true, O, cb * taps, cols, T(1), gyp + n * O * L + oh0 * g.Wo, L, 0, buf,
                              cols, 0, T(first ? 0 : 1), gwb, K, 0, 1);
      }
    if (first)
      for (int64_t o = 0; o < O; ++o) std::fill(gwb + o * K, gwb + o * K + cb * taps, T(0));
  }
}

}  // namespace

bool weight_grad_large(const ConvProblem& pb, const Tensor& x, const Tensor& gy, Tensor& gw) {
  if (!large_weight(pb)) return false;
  VPS_DISPATCH_FLOAT(x.dtype(), "conv2d backward", [&] {
    if (pb.g.is_pointwise())
      pointwise_weight_grad_by_rows<scalar_t>(pb, x.data<scalar_t>(), gy.data<scalar_t>(), gw.data<scalar_t>());
    else
      weight_grad_by_channel_blocks<scalar_t>(pb, x.data<scalar_t>(), gy.data<scalar_t>(), gw.data<scalar_t>());
  });
  return true;
}

bool input_grad_large(const ConvProblem& pb, const Tensor& gy, const Tensor& w, const Tensor& bias, Tensor& gx) {
  const ConvGeom& g = pb.g;
  if (!large_weight(pb) || g.is_pointwise() || g.sh != 1 || g.sw != 1 || g.ph > g.dh * (g.kh - 1) ||
      g.pw > g.dw * (g.kw - 1))
    return false;
  ConvProblem t = pb;  // gy (N, O, Ho, Wo) -> gx (N, C, H, W)
  t.O = g.C;
  t.g.C = pb.O, t.g.H = g.Ho, t.g.W = g.Wo, t.g.Ho = g.H, t.g.Wo = g.W;
  t.g.ph = g.dh * (g.kh - 1) - g.ph, t.g.pw = g.dw * (g.kw - 1) - g.pw;
  Tensor wt = Tensor::empty({g.C, pb.O, g.kh, g.kw}, w.dtype(), kCPU);  // wt[c, o, i, j] = w[o, c, kh-1-i, kw-1-j]
  VPS_DISPATCH_FLOAT(w.dtype(), "conv2d backward", [&] {
    const scalar_t* src = w.data<scalar_t>();
    scalar_t* dst = wt.data<scalar_t>();
    const int64_t taps = g.kh * g.kw;
    for (int64_t o = 0; o < pb.O; ++o)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t k = 0; k < taps; ++k) dst[(c * pb.O + o) * taps + k] = src[(o * g.C + c) * taps + taps - 1 - k];
  });
  forward_cpu_into(t, gy, wt, bias, gx);
  return true;
}

}  // namespace vps::conv_detail
