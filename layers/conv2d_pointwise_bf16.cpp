// The 1x1 convolutions (no padding, groups 1) with bf16 products, as GEMMs on the NCHW tensors
// themselves: y[n][:, tile] = W (O x C) * x[n][:, tile] (C x L), each tile of L output pixels rounded
// to bf16 on its thread while in cache and multiplied by oneDNN's bf16 matmul (one call a tile).
// oneDNN's convolution wants its input and output channels-last (nhwc), and its
// reorders of a 1x1's input and output took 2.5x its products' time in the bf16 frame (docs/conv.md);
// here nothing is reordered, and the epilogue (scale, bias, residual, ReLU) is applied as the products
// are copied out. Tiles are fixed by the shape and each runs on one thread: the same bits
// on any thread count.
#include <algorithm>

#include "layers/conv2d.h"
#include "tensor/bf16.h"
#include "tensor/blas.h"
#include "tensor/parallel.h"

namespace vps::conv_detail {

namespace {
// bf16 input tile (2C bytes a pixel) and float32 output tile (4O) about this size: both in L2
constexpr int64_t kPointwiseTileBytes = 512 * 1024;
}  // namespace

bool pointwise_bf16_applies(const ConvProblem& pb) {
  const ConvGeom& g = pb.g;
  return pb.groups == 1 && g.kh == 1 && g.kw == 1 && g.ph == 0 && g.pw == 0 && g.C > 0;
}

void forward_pointwise_bf16(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias,
                            const ConvEpilogue& e, Tensor& y) {
  const ConvGeom& g = pb.g;
  const int64_t C = g.C, O = pb.O, HW = g.H * g.W, plane = g.Ho * g.Wo;
  if (pb.N == 0 || plane == 0 || O == 0) return;
  int64_t L = kPointwiseTileBytes / (2 * C + 4 * O) / 64 * 64;
  L = std::min(std::max<int64_t>(L, 64), plane);
  const int64_t per_image = (plane + L - 1) / L, items = pb.N * per_image;
  const int threads = int(std::min<int64_t>(omp_get_max_threads(), items));
  Tensor wb = to_bf16(w), tiles = Tensor::empty({threads, C * L}, DType::bf16, kCPU);
  Tensor outs = Tensor::empty({threads, O * L}, DType::f32, kCPU);
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  const bool dense = g.sh == 1 && g.sw == 1;
  const float* scale = e.scale.defined() ? e.scale.data<float>() : nullptr;
  const float* res = e.residual.defined() ? e.residual.data<float>() : nullptr;
  parallel_for_each(items, threads, [&](int64_t it) {
    const int64_t n = it / per_image, p0 = (it % per_image) * L, len = std::min(L, plane - p0);
    const float* xn = x.data<float>() + n * C * HW;
    bf16* tile = tiles.data<bf16>() + omp_get_thread_num() * C * L;
    for (int64_t c = 0; c < C; ++c) {
      const float* xc = xn + c * HW;
      bf16* tc = tile + c * L;
      if (dense) {
        round_to_bf16(xc + p0, tc, len);
      } else {  // strided: output pixel p reads input (ho * sh, wo * sw)
        for (int64_t p = 0; p < len; ++p) {
          int64_t ho = (p0 + p) / g.Wo, wo = (p0 + p) % g.Wo;
          tc[p] = bf16(xc[ho * g.sh * g.W + wo * g.sw]);
        }
      }
    }
    // the product into a dense tile, then copied out row by row with the bias: y's rows lie a plane
    // apart (often a large power of two), which as the product's row stride made its stores alias in
    // the caches (3-8x slower products)
    float* out = outs.data<float>() + omp_get_thread_num() * O * L;
    blas::gemm_bf16_on_this_thread(false, false, O, len, C, wb.data<bf16>(), C, tile, L, 0.f, out, L);
    const int64_t at = n * O * plane + p0;  // the tile's offset in y (and in the residual)
    for (int64_t o = 0; o < O; ++o) {
      const float so = scale ? scale[o] : 1.f, bo = b.defined() ? b.data<float>()[o] : 0.f;
      const float* r = out + o * L;
      float* d = y.data<float>() + at + o * plane;
      for (int64_t p = 0; p < len; ++p) d[p] = r[p] * so + bo;
      if (res)
        for (int64_t p = 0; p < len; ++p) d[p] += res[at + o * plane + p];
      if (e.relu)  // as ops relu: x > 0 ? x : 0
        for (int64_t p = 0; p < len; ++p) d[p] = d[p] > 0.f ? d[p] : 0.f;
    }
  });
}

}  // namespace vps::conv_detail
