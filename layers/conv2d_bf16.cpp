// conv2d's forward with bf16 products (ConvParams::precision = bf16; CPU float32 inference): the tiles
// of the float32 path (cpu_tiles), the weight rounded to bf16 once per call, each tile's float32
// columns (im2col; a 1x1 convolution: its slice of the input) rounded to bf16 in one vectorised pass
// while in cache, and the tile's product bf16 x bf16 -> float32 (oneDNN, one thread per tile) straight
// into y with the bias pre-filled. Rounding the whole input first (a pass over memory) or inside the
// im2col loop (it did not vectorise; per row, the calls cost more) were slower. The tiles are fixed by
// the shape: the same bits on any thread count.
#include <omp.h>

#include <algorithm>

#include "layers/conv2d.h"
#include "tensor/bf16.h"
#include "tensor/blas.h"

namespace vps::conv_detail {

Tensor forward_cpu_bf16(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const ConvGeom& g = pb.g;
  int64_t G = pb.groups, Og = pb.O / G, K = g.col_rows(), Kg = K / G, L = g.col_cols();
  Tensor y = Tensor::empty({pb.N, pb.O, g.Ho, g.Wo}, DType::f32, kCPU);
  Tensor wb = to_bf16(w), b = bias.defined() ? bias.contiguous() : bias;
  CpuTiles tl = cpu_tiles(pb, sizeof(float), 1, true);
  int64_t rows = tl.rows, per_image = tl.per_image, ob = tl.oblocks;
  int64_t oblock = ob == 1 ? Og : (pb.O + ob - 1) / ob;  // output channels per tile (G == 1 when ob > 1)
  bool pointwise = g.is_pointwise();
  const int64_t tile = K * rows * g.Wo;
  Tensor cols = Tensor::empty({tl.threads, tile}, DType::bf16, kCPU), cols32;
  if (!pointwise) cols32 = Tensor::empty({tl.threads, tile}, DType::f32, kCPU);
  const float* xp = x.data<float>();
  const bf16* wp = wb.data<bf16>();
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  float* yp = y.data<float>();
  bf16* colp = cols.data<bf16>();
  float* col32p = pointwise ? nullptr : cols32.data<float>();
#pragma omp parallel for schedule(dynamic, 1) num_threads(tl.threads)
  for (int64_t t = 0; t < tl.ntiles; ++t) {
    int64_t rt = t / ob, o0 = (t % ob) * oblock, M = std::min(oblock, pb.O - o0);
    int64_t n = rt / per_image, oh0 = (rt % per_image) * rows, R = std::min(rows, g.Ho - oh0), cols_n = R * g.Wo;
    if (M <= 0) continue;
    const float* xn = xp + n * g.C * g.H * g.W;
    bf16* bt = colp + omp_get_thread_num() * tile;  // (K, cols_n)
    if (pointwise) {
      for (int64_t c = 0; c < K; ++c) round_to_bf16(xn + c * L + oh0 * g.Wo, bt + c * cols_n, cols_n);
    } else {
      float* c32 = col32p + omp_get_thread_num() * tile;
      Im2colBody<float>{g, xn, c32, g.Wo, oh0, R, cols_n}.fill_tile();
      round_to_bf16(c32, bt, K * cols_n);
    }
    const int64_t ldb = cols_n;
    float* yt = yp + (n * pb.O + o0) * L + oh0 * g.Wo;
    if (bp)
      for (int64_t o = 0; o < (ob == 1 ? pb.O : M); ++o) std::fill(yt + o * L, yt + o * L + cols_n, bp[o0 + o]);
    blas::gemm_batched_bf16(false, false, ob == 1 ? Og : M, cols_n, Kg, wp + o0 * Kg, Kg, Og * Kg, bt, ldb,
                            Kg * ldb, bp ? 1.f : 0.f, yt, L, Og * L, G);
  }
  return y;
}

}  // namespace vps::conv_detail
