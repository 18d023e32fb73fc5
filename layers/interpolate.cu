// interpolate: the tap map (axis_tap()) is shared by forward (gather) and backward (scatter), and the
// bodies by the CPU and CUDA builds. CUDA runs one output element per thread (atomic_add in backward);
// CPU runs whole output rows per call in forward and whole planes per call in backward, so no index
// division per element and no atomics (a plane's scatter has one writer).
#include "layers/interpolate.h"

#include <cmath>

#include "autograd/node.h"
#include "layers/kernels/row_span.h"
#include "tensor/hd.h"

namespace vps {

namespace {

struct InterpGeom {
  int64_t P = 0, H = 0, W = 0, Ho = 0, Wo = 0;
  double sh = 0, sw = 0;  // source-per-destination scales
  bool bilinear = false, align_corners = false;
  int64_t outputs() const { return P * Ho * Wo; }
};

HD inline void axis_linear(double scale, bool align, int64_t dst, int64_t in, int64_t* i0, int64_t* i1, double* l1) {
  double src = align ? scale * double(dst) : scale * (double(dst) + 0.5) - 0.5;
  if (src < 0) src = 0;
  *i0 = int64_t(src);
  if (*i0 > in - 1) *i0 = in - 1;
  *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
  *l1 = src - double(*i0);
}

HD inline int64_t axis_nearest(double scale, int64_t dst, int64_t in, int64_t out) {
  if (in == out) return dst;
  // PyTorch computes this in float32: floorf(dst * (float)scale).
  int64_t s = int64_t(::floorf(float(dst) * float(scale)));
  return s < in - 1 ? s : in - 1;
}

// One axis of the tap map: source indices i0, i1 and weight l1 of i1 (nearest: i0 == i1, l1 = 0).
struct AxisTap {
  int64_t i0, i1;
  double l1;
};

HD inline AxisTap axis_tap(const InterpGeom& g, bool rows, int64_t dst) {
  AxisTap a;
  int64_t in = rows ? g.H : g.W;
  if (!g.bilinear) {
    a.i0 = a.i1 = axis_nearest(rows ? g.sh : g.sw, dst, in, rows ? g.Ho : g.Wo);
    a.l1 = 0;
  } else {
    axis_linear(rows ? g.sh : g.sw, g.align_corners, dst, in, &a.i0, &a.i1, &a.l1);
  }
  return a;
}

// The column taps of every output column, computed once per call: a byte tensor on `device` holding
// Wo AxisTap records (read with taps_of).
Tensor column_taps(const InterpGeom& g, Device device) {
  Tensor t = Tensor::empty({g.Wo * int64_t(sizeof(AxisTap))}, DType::u8, device);
  AxisTap* p = reinterpret_cast<AxisTap*>(t.data<uint8_t>());
  InterpGeom q = g;
  parallel_for(device, g.Wo, VPS_KERNEL((int64_t ow) { p[ow] = axis_tap(q, false, ow); }));
  return t;
}
const AxisTap* taps_of(const Tensor& t) { return reinterpret_cast<const AxisTap*>(t.data<uint8_t>()); }

// Forward: index i over (plane, oh, span of ow); span = Wo on CPU, 1 on CUDA.
template <class T>
struct InterpForwardBody {
  InterpGeom g;
  const AxisTap* cols;  // column taps, one per output column (column_taps)
  const T* x;
  T* y;
  int64_t span;
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, g.Wo, span);
    int64_t row = rs.row, ow0 = rs.k0, ow1 = rs.k1;  // row = plane * Ho + oh
    int64_t oh = row % g.Ho, plane = row / g.Ho;
    AxisTap h = axis_tap(g, true, oh);
    const T *r0 = x + (plane * g.H + h.i0) * g.W, *r1 = x + (plane * g.H + h.i1) * g.W;
    T* out = y + row * g.Wo;
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      AxisTap w = cols[ow];
      if (!g.bilinear) {
        out[ow] = r0[w.i0];
        continue;
      }
      double lh = h.l1, lw = w.l1;
      out[ow] = T((1 - lh) * (1 - lw) * double(r0[w.i0]) + (1 - lh) * lw * double(r0[w.i1]) +
                  lh * (1 - lw) * double(r1[w.i0]) + lh * lw * double(r1[w.i1]));
    }
  }
  int64_t count() const { return g.P * g.Ho * ((g.Wo + span - 1) / span); }
};

// Backward scatter into dx (zeroed): whole planes per call on CPU (plain adds: one writer per
// plane), one output element per call with atomic_add on CUDA.
template <class T>
struct InterpBackwardBody {
  InterpGeom g;
  const AxisTap* cols;
  const T* gy;
  T* gx;
  bool per_plane;
  HD void add(T* p, T v) const { scatter_add(p, v, per_plane); }
  HD void operator()(int64_t i) const {
    int64_t plane = per_plane ? i : i / (g.Ho * g.Wo);
    int64_t o0 = per_plane ? 0 : i % (g.Ho * g.Wo), o1 = per_plane ? g.Ho * g.Wo : o0 + 1;
    const T* gp = gy + plane * g.Ho * g.Wo;
    for (int64_t oh = o0 / g.Wo, o = o0; o < o1; ++oh) {
      AxisTap h = axis_tap(g, true, oh);
      T *r0 = gx + (plane * g.H + h.i0) * g.W, *r1 = gx + (plane * g.H + h.i1) * g.W;
      int64_t ow1 = o1 - oh * g.Wo < g.Wo ? o1 - oh * g.Wo : g.Wo;
      for (int64_t ow = o - oh * g.Wo; ow < ow1; ++ow, ++o) {
        AxisTap w = cols[ow];
        double v = double(gp[o]);
        if (!g.bilinear) {
          add(r0 + w.i0, T(v));
          continue;
        }
        double lh = h.l1, lw = w.l1;
        add(r0 + w.i0, T((1 - lh) * (1 - lw) * v));
        add(r0 + w.i1, T((1 - lh) * lw * v));
        add(r1 + w.i0, T(lh * (1 - lw) * v));
        add(r1 + w.i1, T(lh * lw * v));
      }
    }
  }
  int64_t count() const { return per_plane ? g.P : g.outputs(); }
};

struct InterpolateBackward : autograd::Node {
  InterpGeom g;
  Shape in_shape;
  const char* name() const override { return g.bilinear ? "UpsampleBilinear2dBackward" : "UpsampleNearest2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor dy = grads[0].contiguous();
    Tensor dx = Tensor::zeros(in_shape, dy.dtype(), dy.device());
    VPS_DISPATCH_FLOAT(dy.dtype(), "interpolate backward", [&] {
      Tensor tab = column_taps(g, dy.device());
      InterpBackwardBody<scalar_t> body{g, taps_of(tab), dy.data<scalar_t>(), dx.data<scalar_t>(),
                                        dy.device().is_cpu()};
      parallel_for(dy.device(), body.count(), body, body.per_plane ? g.Ho * g.Wo : 1);
    });
    return {dx};
  }
};

double axis_scale(bool bilinear, bool align, int64_t in, int64_t out, double scale_factor) {
  if (bilinear && align) return out > 1 ? double(in - 1) / double(out - 1) : 0.0;
  return scale_factor > 0 ? 1.0 / scale_factor : double(in) / double(out);
}

Tensor interpolate_impl(const Tensor& x_in, Pair size, std::array<double, 2> scale, InterpMode mode, bool align) {
  const char* op = "interpolate";
  VPS_CHECK(x_in.defined() && x_in.dim() == 4, op, ": expected input (N, C, H, W), got ",
            x_in.defined() ? shape_str(x_in.shape()) : "undefined");
  VPS_CHECK(is_floating(x_in.dtype()), op, ": expected a float input, got ", dtype_name(x_in.dtype()));
  VPS_CHECK(size[0] > 0 && size[1] > 0, op, ": output size (", size[0], ", ", size[1], ") must be positive (input ",
            shape_str(x_in.shape()), ")");
  VPS_CHECK(x_in.size(2) > 0 && x_in.size(3) > 0, op, ": empty input ", shape_str(x_in.shape()));
  VPS_CHECK(mode == InterpMode::bilinear || !align, op, ": align_corners is only valid for bilinear");
  InterpGeom g;
  g.P = x_in.size(0) * x_in.size(1);
  g.H = x_in.size(2);
  g.W = x_in.size(3);
  g.Ho = size[0];
  g.Wo = size[1];
  g.bilinear = mode == InterpMode::bilinear;
  g.align_corners = align;
  g.sh = axis_scale(g.bilinear, align, g.H, g.Ho, scale[0]);
  g.sw = axis_scale(g.bilinear, align, g.W, g.Wo, scale[1]);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.Ho, g.Wo}, x.dtype(), x.device());
  Tensor tab = column_taps(g, x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    InterpForwardBody<scalar_t> body{g, taps_of(tab), x.data<scalar_t>(), y.data<scalar_t>(),
                                     x.device().is_cuda() ? 1 : g.Wo};
    parallel_for(x.device(), body.count(), body, body.span);
  });
  if (autograd::needs_grad({x_in})) {
    auto n = std::make_shared<InterpolateBackward>();
    n->g = g;
    n->in_shape = x_in.shape();
    autograd::record(n, {x_in}, {y});
  }
  return y;
}

}  // namespace

Tensor interpolate(const Tensor& x, Pair size, InterpMode mode, bool align_corners) {
  return interpolate_impl(x, size, {0, 0}, mode, align_corners);
}

Tensor interpolate_scale(const Tensor& x, std::array<double, 2> scale, InterpMode mode, bool align_corners) {
  VPS_CHECK(scale[0] > 0 && scale[1] > 0, "interpolate: scale factors (", scale[0], ", ", scale[1],
            ") must be positive");
  VPS_CHECK(x.defined() && x.dim() == 4, "interpolate: expected input (N, C, H, W), got ",
            x.defined() ? shape_str(x.shape()) : "undefined");
  Pair size = {int64_t(std::floor(double(x.size(2)) * scale[0])), int64_t(std::floor(double(x.size(3)) * scale[1]))};
  return interpolate_impl(x, size, scale, mode, align_corners);
}

}  // namespace vps
