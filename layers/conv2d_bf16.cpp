// conv2d's forward with bf16 products (ConvParams::precision = bf16; CPU float32 inference): the tiles
// of the float32 path (cpu_tiles), the weight rounded to bf16 once per call, and each tile's product
// bf16 x bf16 -> float32 (oneDNN, one thread per tile) straight into y with the bias pre-filled. The
// columns: a 1x1 convolution's slice of the input rounded to bf16 per tile while in cache; any other
// convolution's input rounded once (to_bf16) and its bf16 columns filled by im2col (half the bytes of
// float32 columns, and a 3x3 rounds each value once instead of nine times: the same values, since
// rounding commutes with the copy). Rounding the 1x1 inputs whole was slower (their columns are read
// once), as was rounding inside the im2col loop. The tiles are fixed by the shape: the same bits on
// any thread count.
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
  bool pointwise = g.is_pointwise();
  const int64_t tile = K * tl.rows * g.Wo;
  Tensor cols = Tensor::empty({tl.threads, tile}, DType::bf16, kCPU);
  Tensor xb = pointwise ? Tensor() : to_bf16(x);
  const float* xp = x.data<float>();
  const bf16* wp = wb.data<bf16>();
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  float* yp = y.data<float>();
#pragma omp parallel for schedule(dynamic, 1) num_threads(tl.threads)
  for (int64_t t = 0; t < tl.ntiles; ++t) {
    const ForwardTile ft = forward_tile(pb, tl, t);
    if (ft.empty) continue;
    const int64_t image = ft.n * g.C * g.H * g.W;
    bf16* bt = cols.data<bf16>() + omp_get_thread_num() * tile;  // (K, ft.cols)
    if (pointwise) {
      const float* xn = xp + image;
      for (int64_t c = 0; c < K; ++c) round_to_bf16(xn + c * L + ft.oh0 * g.Wo, bt + c * ft.cols, ft.cols);
    } else {
      im2col_tile_cpu(Im2colBody<bf16>{g, xb.data<bf16>() + image, bt, g.Wo, ft.oh0, ft.R, ft.cols});
    }
    float* yt = yp + (ft.n * pb.O + ft.o0) * L + ft.oh0 * g.Wo;
    if (bp) prefill_bias(yt, bp, ft, L);
    blas::gemm_batched_bf16(false, false, ft.gemm_m, ft.cols, Kg, wp + ft.o0 * Kg, Kg, Og * Kg, bt, ft.cols,
                            Kg * ft.cols, bp ? 1.f : 0.f, yt, L, Og * L, G);
  }
  return y;
}

}  // namespace vps::conv_detail
