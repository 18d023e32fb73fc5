// deform_conv2d: deformable im2col + GEMM over tiles of output rows, so the column buffer stays bounded.
// Per image n, row tile [h0, h0 + rows) (L = rows * Wo columns) and group g:
//   y[n, g, tile] (Og, L) = W_g (Og, Kg) @ col_g (Kg, L),   Kg = Cg * kh * kw
// Backward per tile: gcol_g = W_g^T @ gy_g; the offset gradient and the input gradient (the adjoint
// of the sampling) from gcol; gW_g += gy_g @ col_g^T with the columns recomputed.
#include <omp.h>

#include <algorithm>
#include <memory>

#include "autograd/node.h"
#include "layers/deform_conv2d.h"
#include "layers/kernels/deform_im2col.h"
#include "tensor/blas.h"
#include "tensor/parallel.h"

namespace vps {
namespace {

struct DeformProblem {
  int64_t N = 0, O = 0, groups = 1, rows = 1;  // rows: output rows per tile (CUDA, CPU backward)
  int64_t cpu_tile_bytes = int64_t(2) << 20;   // a CPU thread's column tile in the forward
  DeformGeom g;
  bool mmdet_rule = true;
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
  return pb;
}

// CUDA columns of positions [t0, t0 + L): a thread per column (SPAN 1), coalesced.
template <class T>
void im2col_cuda(const DeformProblem& pb, const T* xn, const T* offn, T* col, int64_t t0, int64_t L, Device d) {
  DeformIm2colBody<T, 1> body{pb.g, xn, offn, col, t0, L};
  parallel_for(d, body.count(), body);
}
// CPU columns of positions [t0, t0 + L), on all threads (the backward's row tiles).
template <class T>
void im2col_cpu(const DeformProblem& pb, const T* xn, const T* offn, T* col, int64_t t0, int64_t L) {
  DeformIm2colBody<T, 64> body{pb.g, xn, offn, col, t0, L};
  parallel_for(kCPU, body.count(), body, 64 * pb.g.K() * pb.g.channels_per_dg());
}

// CPU forward: as conv2d's tiled path, each thread fills a column tile of its own (about 2 MiB, so
// it stays in cache between im2col and the GEMM) and multiplies it with single-threaded OpenBLAS.
template <class T>
void forward_cpu_t(const DeformProblem& pb, const Tensor& x, const Tensor& off, const Tensor& w, const Tensor& y) {
  const DeformGeom& g = pb.g;
  int64_t G = pb.groups, Og = pb.O / G, CK = g.C * g.K(), Kg = CK / G, plane = g.Ho * g.Wo;
  int64_t per = std::max<int64_t>(64, pb.cpu_tile_bytes / (CK * int64_t(sizeof(T))) / 64 * 64);
  per = std::min(per, plane);
  int64_t ntile = (plane + per - 1) / per, total = pb.N * ntile;
  int threads = int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), total)));
  Tensor cols = Tensor::empty({threads, CK * per}, x.dtype(), kCPU);
  blas::SingleThreadedCpuBlas one_thread_each;
  parallel_for_each(total, threads, [&](int64_t it) {
    int64_t n = it / ntile, t0 = (it % ntile) * per, L = std::min(per, plane - t0);
    T* col = cols.data<T>() + int64_t(omp_get_thread_num()) * CK * per;
    DeformIm2colBody<T, 64> body{g, x.data<T>() + n * g.C * g.H * g.W, off.data<T>() + n * 2 * g.dg * g.K() * plane,
                                 col, t0, L};
    for (int64_t i = 0; i < body.count(); ++i) body(i);
    blas::gemm_batched<T>(kCPU, false, false, Og, L, Kg, T(1), w.data<T>(), Kg, Og * Kg, col, L, Kg * L, T(0),
                          y.data<T>() + n * pb.O * plane + t0, plane, Og * plane, G);
  });
}

template <class T>
void forward_t(const DeformProblem& pb, const Tensor& x, const Tensor& off, const Tensor& w, const Tensor& y) {
  if (x.device().is_cpu()) return forward_cpu_t<T>(pb, x, off, w, y);
  const DeformGeom& g = pb.g;
  Device d = x.device();
  int64_t G = pb.groups, Og = pb.O / G, Kg = g.C / G * g.K(), plane = g.Ho * g.Wo;
  Tensor col = Tensor::empty({g.C * g.K() * pb.rows * g.Wo}, x.dtype(), d);
  for (int64_t n = 0; n < pb.N; ++n) {
    const T* xn = x.data<T>() + n * g.C * g.H * g.W;
    const T* offn = off.data<T>() + n * 2 * g.dg * g.K() * plane;
    for (int64_t h0 = 0; h0 < g.Ho; h0 += pb.rows) {
      int64_t rows = std::min(pb.rows, g.Ho - h0), L = rows * g.Wo;
      im2col_cuda(pb, xn, offn, col.data<T>(), h0 * g.Wo, L, d);
      T* yt = y.data<T>() + n * pb.O * plane + h0 * g.Wo;
      blas::gemm_batched<T>(d, false, false, Og, L, Kg, T(1), w.data<T>(), Kg, Og * Kg, col.data<T>(), L, Kg * L, T(0),
                            yt, plane, Og * plane, G);
    }
  }
}

template <class T>
void backward_t(const DeformProblem& pb, const Tensor& x, const Tensor& off, const Tensor& w, const Tensor& gy,
                const Tensor& gx, const Tensor& goff, const Tensor& gw) {
  const DeformGeom& g = pb.g;
  Device d = x.device();
  int64_t G = pb.groups, Og = pb.O / G, Kg = g.C / G * g.K(), plane = g.Ho * g.Wo;
  int64_t cols = g.C * g.K() * pb.rows * g.Wo;
  Tensor col = Tensor::empty({cols}, x.dtype(), d), gcol = Tensor::empty({cols}, x.dtype(), d);
  for (int64_t n = 0; n < pb.N; ++n) {
    const T* xn = x.data<T>() + n * g.C * g.H * g.W;
    const T* offn = off.data<T>() + n * 2 * g.dg * g.K() * plane;
    for (int64_t h0 = 0; h0 < g.Ho; h0 += pb.rows) {
      int64_t rows = std::min(pb.rows, g.Ho - h0), L = rows * g.Wo;
      const T* gyt = gy.data<T>() + n * pb.O * plane + h0 * g.Wo;
      blas::gemm_batched<T>(d, true, false, Kg, L, Og, T(1), w.data<T>(), Kg, Og * Kg, gyt, plane, Og * plane, T(0),
                            gcol.data<T>(), L, Kg * L, G);
      T* goffn = goff.data<T>() + n * 2 * g.dg * g.K() * plane;
      if (d.is_cuda()) {
        DeformOffsetGradBody<T, 1> ob{g, xn, offn, gcol.data<T>(), goffn, h0 * g.Wo, L, pb.mmdet_rule};
        parallel_for(d, ob.count(), ob);
      } else {
        DeformOffsetGradBody<T, 64> ob{g, xn, offn, gcol.data<T>(), goffn, h0 * g.Wo, L, pb.mmdet_rule};
        parallel_for(d, ob.count(), ob, 64 * g.K() * g.channels_per_dg());
      }
      T* gxn = gx.data<T>() + n * g.C * g.H * g.W;
      if (d.is_cuda()) {
        DeformCol2imCudaBody<T> cb{g, offn, gcol.data<T>(), gxn, h0 * g.Wo, L};
        parallel_for(d, cb.count(), cb);
      } else {
        DeformCol2imCpuBody<T, 64, 8> cb{g, offn, gcol.data<T>(), gxn, h0 * g.Wo, L};
        parallel_for(d, cb.count(), cb, 8 * g.K() * L);
      }
      if (d.is_cuda()) im2col_cuda(pb, xn, offn, col.data<T>(), h0 * g.Wo, L, d);
      else im2col_cpu(pb, xn, offn, col.data<T>(), h0 * g.Wo, L);
      blas::gemm_batched<T>(d, false, true, Og, Kg, L, T(1), gyt, plane, Og * plane, col.data<T>(), L, Kg * L, T(1),
                            gw.data<T>(), Kg, Og * Kg, G);
    }
  }
}

struct DeformConv2dBackward : autograd::Node {
  DeformProblem pb;
  autograd::SavedTensor x, off, w;
  const char* name() const override { return "DeformConv2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor gy = grads[0].contiguous(), xs = x.get(name()), os = off.get(name()), ws = w.get(name());
    Tensor gx = Tensor::zeros(xs.shape(), xs.dtype(), xs.device());
    Tensor goff = Tensor::zeros(os.shape(), os.dtype(), os.device());
    Tensor gw = Tensor::zeros(ws.shape(), ws.dtype(), ws.device());
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
