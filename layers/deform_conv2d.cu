// deform_conv2d: channel-last deformable im2col + GEMM over tiles of output positions, so the column
// buffer stays bounded (layers/kernels/deform_im2col.h has the layout). Per image n: xT = x[n]
// transposed to (H*W, C); per tile of L positions and weight group g:
//   y[n, g, tile] (Og, L) = Wp_g (Og, K*Cg) @ col_g^T,   col (L, C*K), Wp the weight as (O, K, Cg)
// Backward per tile: gcol_g = gy_g^T @ Wp_g; the offset gradient (with the columns recomputed in the
// same pass) and the input gradient (the adjoint of the sampling, into gxT) from gcol;
// gWp_g += gy_g @ col_g.
#include <omp.h>

#include <algorithm>
#include <memory>
#include <type_traits>

#include "autograd/node.h"
#include "layers/bf16_inference.h"
#include "layers/deform_conv2d.h"
#include "layers/kernels/deform_im2col.h"
#include "tensor/bf16.h"
#include "tensor/blas.h"
#include "tensor/parallel.h"

namespace vps {
namespace {

struct DeformProblem {
  int64_t N = 0, O = 0, groups = 1, rows = 1;  // rows: output rows per tile (CUDA, CPU backward)
  int64_t cpu_tile_bytes = int64_t(2) << 20;   // a CPU thread's column tile in the forward
  DeformGeom g;
  bool mmdet_rule = true;
  bool bf16 = false;  // DeformConvParams::precision: the CPU forward's products in bf16
};

DeformProblem make_problem(const Tensor& x, const Tensor& off, const Tensor& w, const DeformConvParams& p) {
  VPS_CHECK(x.defined() && off.defined() && w.defined(), "deform_conv2d: input, offset and weight must be defined");
  std::string shapes = str_cat(" (input ", shape_str(x.shape()), ", offset ", shape_str(off.shape()), ", weight ",
                               shape_str(w.shape()), ")");
  VPS_CHECK(x.dim() == 4 && off.dim() == 4 && w.dim() == 4, "deform_conv2d: expected 4-D input, offset and weight",
            shapes);
  VPS_CHECK((x.dtype() == DType::f32 || x.dtype() == DType::f64) && off.dtype() == x.dtype() &&
                w.dtype() == x.dtype(),
            "deform_conv2d: input, offset and weight must share a float dtype, got ", dtype_name(x.dtype()), ", ",
            dtype_name(off.dtype()), ", ", dtype_name(w.dtype()), shapes);
  VPS_CHECK(x.device() == off.device() && x.device() == w.device(), "deform_conv2d: tensors on different devices",
            shapes);
  VPS_CHECK(p.groups >= 1 && p.deformable_groups >= 1, "deform_conv2d: groups and deformable_groups must be >= 1");
  for (int i = 0; i < 2; ++i)
    VPS_CHECK(p.stride[i] >= 1 && p.dilation[i] >= 1 && p.padding[i] >= 0,
              "deform_conv2d: stride and dilation must be >= 1 and padding >= 0", shapes);
  DeformProblem pb;
  DeformGeom& g = pb.g;
  pb.N = x.size(0), pb.O = w.size(0), pb.groups = p.groups;
  g.groups = p.groups;
  g.C = x.size(1), g.H = x.size(2), g.W = x.size(3), g.kh = w.size(2), g.kw = w.size(3);
  g.sh = p.stride[0], g.sw = p.stride[1], g.ph = p.padding[0], g.pw = p.padding[1];
  g.dh = p.dilation[0], g.dw = p.dilation[1], g.dg = p.deformable_groups;
  VPS_CHECK(g.C % p.groups == 0 && pb.O % p.groups == 0 && w.size(1) * p.groups == g.C, "deform_conv2d: groups=",
            p.groups, " must divide input channels ", g.C, " and output channels ", pb.O,
            ", and weight.size(1) * groups must equal the input channels", shapes);
  VPS_CHECK(g.C % g.dg == 0, "deform_conv2d: deformable_groups=", g.dg, " must divide input channels ", g.C, shapes);
  VPS_CHECK(g.H + 2 * g.ph >= g.dh * (g.kh - 1) + 1 && g.W + 2 * g.pw >= g.dw * (g.kw - 1) + 1,
            "deform_conv2d: kernel (dilated) larger than padded input", shapes);
  g.Ho = (g.H + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.Wo = (g.W + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  Shape want = {pb.N, 2 * g.dg * g.K(), g.Ho, g.Wo};
  VPS_CHECK(off.shape() == want, "deform_conv2d: offset must have shape ", shape_str(want),
            " (N, 2 * deformable_groups * kh * kw, Ho, Wo)", shapes);
  int64_t budget = (p.column_budget_kb > 0 ? p.column_budget_kb : (x.device().is_cuda() ? 256 : 32) * 1024) * 1024;
  int64_t row_bytes = g.C * g.K() * g.Wo * int64_t(dtype_size(x.dtype()));
  pb.rows = std::max<int64_t>(1, std::min<int64_t>(g.Ho, budget / std::max<int64_t>(1, row_bytes)));
  if (p.column_budget_kb > 0) pb.cpu_tile_bytes = p.column_budget_kb * 1024;
  pb.mmdet_rule = p.offset_grad == DeformOffsetGrad::mmdet;
  pb.bf16 = p.precision == MatmulPrecision::bf16;
  return pb;
}

// Both directions of one image's (C, H*W) <-> (H*W, C) transpose (DeformTransposeBody).
template <class T>
void transpose_planes(const T* src, T* dst, int64_t rows, int64_t cols, Device d) {
  if (d.is_cuda()) {
    DeformTransposeBody<T, 0> b{src, dst, rows, cols};
    parallel_for(d, b.count(), b);
  } else {
    DeformTransposeBody<T, 16> b{src, dst, rows, cols};
    parallel_for(d, b.count(), b, 16 * cols);
  }
}

// The weight (O, Cg, kh, kw) in the columns' order (O, K, Cg), and back (docs/dcn.md).
Tensor weight_to_columns(const Tensor& w) {
  return w.detach().reshape({w.size(0), w.size(1), w.size(2) * w.size(3)}).permute({0, 2, 1}).contiguous();
}
Tensor weight_from_columns(const Tensor& wp, const Shape& shape) {
  return wp.reshape({shape[0], shape[2] * shape[3], shape[1]}).permute({0, 2, 1}).contiguous().reshape(shape);
}

// A tile's sample table: dg * K * L taps, in a byte buffer so that one allocation serves every dtype.
template <class T>
Tensor tap_buffer(const DeformGeom& g, int64_t L, Device d) {
  return Tensor::empty({g.dg * g.K() * L * int64_t(sizeof(DeformTap<T>))}, DType::u8, d);
}
template <class T>
DeformTap<T>* taps_of(const Tensor& buf) {
  return reinterpret_cast<DeformTap<T>*>(buf.data<uint8_t>());
}

// CPU forward: as conv2d's tiled path, each thread fills a column tile of its own (about 2 MiB, so
// it stays in cache between im2col and the GEMM) and multiplies it with a single-threaded GEMM; with
// pb.bf16 the weight is rounded to bf16 and the samples (float32 sums) as they are stored.
template <class T>
void forward_cpu_t(const DeformProblem& pb, const Tensor& x, const Tensor& off, const Tensor& w, const Tensor& y) {
  const DeformGeom& g = pb.g;
  int64_t G = pb.groups, Og = pb.O / G, CK = g.C * g.K(), KCg = CK / G, plane = g.Ho * g.Wo, HW = g.H * g.W;
  int64_t per = std::max<int64_t>(16, pb.cpu_tile_bytes / (CK * int64_t(sizeof(T))) / 16 * 16);
  per = std::min(per, plane);
  int64_t ntile = (plane + per - 1) / per;
  int threads = int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), ntile)));
  Tensor cols = Tensor::empty({pb.bf16 ? 0 : threads, CK * per}, x.dtype(), kCPU);  // bf16: colsb instead
  Tensor taps = tap_buffer<T>(g, threads * per, kCPU);
  Tensor xT = Tensor::empty({HW * g.C}, x.dtype(), kCPU), zero = Tensor::zeros({g.C}, x.dtype(), kCPU);
  Tensor wp = weight_to_columns(w), wpb, colsb;
  Tensor outs;  // bf16: each thread's dense product tile
  if (pb.bf16) {
    wpb = to_bf16(wp);
    colsb = Tensor::empty({threads, CK * per}, DType::bf16, kCPU);
    outs = Tensor::empty({threads, pb.O * per}, DType::f32, kCPU);
  }
  for (int64_t n = 0; n < pb.N; ++n) {
    transpose_planes(x.data<T>() + n * g.C * HW, xT.data<T>(), HW, g.C, kCPU);
    const T* offn = off.data<T>() + n * 2 * g.dg * g.K() * plane;
    parallel_for_each(ntile, threads, [&](int64_t it) {
      int64_t t0 = it * per, L = std::min(per, plane - t0), tid = omp_get_thread_num();
      DeformTap<T>* tp = taps_of<T>(taps) + tid * g.dg * g.K() * per;
      DeformTapTableBody<T> tb{g, offn, tp, t0, L};
      for (int64_t i = 0; i < tb.count(); ++i) tb(i);
      T* yt = y.data<T>() + n * pb.O * plane + t0;
      if constexpr (std::is_same_v<T, float>) {
        if (pb.bf16) {  // the samples rounded to bf16 as they are stored
          bf16* cb = colsb.data<bf16>() + tid * CK * per;
          deform_im2col_bf16(g, tp, xT.data<T>(), zero.data<T>(), cb, L);
          // each group's product unsplit into a dense tile (oneDNN's AMX kernel takes it whole; with
          // y's plane as the row stride it ran its AVX-512 one, in strips of 64 rows), then copied out
          float* ot = outs.data<float>() + tid * pb.O * per;
          for (int64_t gi = 0; gi < G; ++gi)
            blas::gemm_bf16_on_this_thread(false, true, Og, L, KCg, wpb.data<bf16>() + gi * Og * KCg, KCg,
                                           cb + gi * KCg, CK, 0.f, ot + gi * Og * L, L);
          for (int64_t o = 0; o < pb.O; ++o) std::copy(ot + o * L, ot + o * L + L, yt + o * plane);
          return;
        }
      }
      T* col = cols.data<T>() + tid * CK * per;
      DeformIm2colBody<T> ib{g, tp, xT.data<T>(), zero.data<T>(), col, L, g.run()};
      for (int64_t i = 0; i < ib.count(); ++i) ib(i);
      blas::gemm_batched<T>(kCPU, false, true, Og, L, KCg, T(1), wp.data<T>(), KCg, Og * KCg, col, CK, KCg, T(0),
                            yt, plane, Og * plane, G);
    });
  }
}

// CUDA forward: tiles of whole output rows, each body a kernel over the tile.
template <class T>
void forward_t(const DeformProblem& pb, const Tensor& x, const Tensor& off, const Tensor& w, const Tensor& y) {
  if (x.device().is_cpu()) return forward_cpu_t<T>(pb, x, off, w, y);
  const DeformGeom& g = pb.g;
  Device d = x.device();
  int64_t G = pb.groups, Og = pb.O / G, CK = g.C * g.K(), KCg = CK / G, plane = g.Ho * g.Wo, HW = g.H * g.W;
  Tensor col = Tensor::empty({CK * pb.rows * g.Wo}, x.dtype(), d), taps = tap_buffer<T>(g, pb.rows * g.Wo, d);
  Tensor xT = Tensor::empty({HW * g.C}, x.dtype(), d), zero = Tensor::zeros({g.C}, x.dtype(), d);
  Tensor wp = weight_to_columns(w);
  for (int64_t n = 0; n < pb.N; ++n) {
    transpose_planes(x.data<T>() + n * g.C * HW, xT.data<T>(), HW, g.C, d);
    const T* offn = off.data<T>() + n * 2 * g.dg * g.K() * plane;
    for (int64_t h0 = 0; h0 < g.Ho; h0 += pb.rows) {
      int64_t rows = std::min(pb.rows, g.Ho - h0), L = rows * g.Wo;
      DeformTapTableBody<T> tb{g, offn, taps_of<T>(taps), h0 * g.Wo, L};
      parallel_for(d, tb.count(), tb);
      DeformIm2colBody<T> ib{g, taps_of<T>(taps), xT.data<T>(), zero.data<T>(), col.data<T>(), L, 1};
      parallel_for(d, ib.count(), ib);
      blas::gemm_batched<T>(d, false, true, Og, L, KCg, T(1), wp.data<T>(), KCg, Og * KCg, col.data<T>(), CK, KCg,
                            T(0), y.data<T>() + n * pb.O * plane + h0 * g.Wo, plane, Og * plane, G);
    }
  }
}

// Backward per tile of output rows, on either device: gcol = gy^T W (GEMM), the sample table, the
// offset gradient with the columns, the input gradient into gxT, gW += gy columns (GEMM).
template <class T>
void backward_t(const DeformProblem& pb, const Tensor& x, const Tensor& off, const Tensor& w, const Tensor& gy,
                const Tensor& gx, const Tensor& goff, Tensor& gw) {
  const DeformGeom& g = pb.g;
  Device d = x.device();
  int64_t G = pb.groups, Og = pb.O / G, CK = g.C * g.K(), KCg = CK / G, plane = g.Ho * g.Wo, HW = g.H * g.W;
  int64_t cols = CK * pb.rows * g.Wo;
  Tensor col = Tensor::empty({cols}, x.dtype(), d), gcol = Tensor::empty({cols}, x.dtype(), d);
  Tensor taps = tap_buffer<T>(g, pb.rows * g.Wo, d), xT = Tensor::empty({HW * g.C}, x.dtype(), d);
  Tensor zero = Tensor::zeros({g.C}, x.dtype(), d), wp = weight_to_columns(w);
  Tensor gwp = Tensor::zeros(wp.shape(), x.dtype(), d);
  // CPU input gradient: one block of channels per thread (each thread owns the channels it writes)
  int64_t block = std::max<int64_t>(1, (g.C + omp_get_max_threads() - 1) / omp_get_max_threads());
  for (int64_t n = 0; n < pb.N; ++n) {
    transpose_planes(x.data<T>() + n * g.C * HW, xT.data<T>(), HW, g.C, d);
    Tensor gxT = Tensor::zeros({HW * g.C}, x.dtype(), d);
    const T* offn = off.data<T>() + n * 2 * g.dg * g.K() * plane;
    T* goffn = goff.data<T>() + n * 2 * g.dg * g.K() * plane;
    for (int64_t h0 = 0; h0 < g.Ho; h0 += pb.rows) {
      int64_t rows = std::min(pb.rows, g.Ho - h0), L = rows * g.Wo, t0 = h0 * g.Wo;
      const T* gyt = gy.data<T>() + n * pb.O * plane + t0;
      blas::gemm_batched<T>(d, true, false, L, KCg, Og, T(1), gyt, plane, Og * plane, wp.data<T>(), KCg, Og * KCg,
                            T(0), gcol.data<T>(), CK, KCg, G);
      DeformTap<T>* tp = taps_of<T>(taps);
      DeformTapTableBody<T> tb{g, offn, tp, t0, L};
      parallel_for(d, tb.count(), tb, 16);
      DeformOffsetGradBody<T> ob{g,    tp, offn, xT.data<T>(), zero.data<T>(), gcol.data<T>(), col.data<T>(), goffn,
                                 t0,   L,  pb.mmdet_rule};
      parallel_for(d, ob.count(), ob, 8 * g.channels_per_dg());
      if (d.is_cuda()) {
        DeformCol2imBody<T, true> cb{g, tp, gcol.data<T>(), gxT.data<T>(), L, 1};
        parallel_for(d, cb.count(), cb);
      } else {
        DeformCol2imBody<T, false> cb{g, tp, gcol.data<T>(), gxT.data<T>(), L, block};
        parallel_for(d, cb.count(), cb, 8 * g.K() * L * block);
      }
      blas::gemm_batched<T>(d, false, false, Og, KCg, L, T(1), gyt, plane, Og * plane, col.data<T>(), CK, KCg, T(1),
                            gwp.data<T>(), KCg, Og * KCg, G);
    }
    transpose_planes(gxT.data<T>(), gx.data<T>() + n * g.C * HW, g.C, HW, d);
  }
  gw = weight_from_columns(gwp, w.shape());
}

struct DeformConv2dBackward : autograd::Node {
  DeformProblem pb;
  autograd::SavedTensor x, off, w;
  const char* name() const override { return "DeformConv2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor gy = grads[0].contiguous(), xs = x.get(name()), os = off.get(name()), ws = w.get(name());
    Tensor gx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
    Tensor goff = Tensor::empty(os.shape(), os.dtype(), os.device());  // every entry written once
    Tensor gw;
    VPS_DISPATCH_FLOAT(xs.dtype(), name(), [&] { backward_t<scalar_t>(pb, xs, os, ws, gy, gx, goff, gw); });
    std::vector<Tensor> out(next.size());
    if (next[0].valid()) out[0] = gx;
    if (next[1].valid()) out[1] = goff;
    if (next[2].valid()) out[2] = gw;
    return out;
  }
  void release() override {
    x.reset();
    off.reset();
    w.reset();
  }
};

}  // namespace

Tensor deform_conv2d(const Tensor& x, const Tensor& offset, const Tensor& weight, const DeformConvParams& p) {
  DeformProblem pb = make_problem(x, offset, weight, p);
  if (pb.bf16) check_bf16_inference("deform_conv2d", {x, offset, weight});
  Tensor xc = x.contiguous(), oc = offset.contiguous(), wc = weight.contiguous();
  Tensor y = Tensor::empty({pb.N, pb.O, pb.g.Ho, pb.g.Wo}, x.dtype(), x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), "deform_conv2d", [&] { forward_t<scalar_t>(pb, xc, oc, wc, y); });
  if (autograd::needs_grad({x, offset, weight})) {
    auto node = std::make_shared<DeformConv2dBackward>();
    node->pb = pb;
    node->x = xc.detach();
    node->off = oc.detach();
    node->w = wc.detach();
    autograd::record(node, {x, offset, weight}, {y});
  }
  return y;
}

}  // namespace vps
