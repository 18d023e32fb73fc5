// interpolate: one output element per thread; the coordinate map (InterpGeom::source) is shared by
// forward (gather) and backward (atomic_add scatter), and by the CPU and CUDA builds.
#include "layers/interpolate.h"

#include <cmath>

#include "autograd/node.h"
#include "tensor/hd.h"

namespace vps {

namespace {

struct InterpGeom {
  int64_t P = 0, H = 0, W = 0, Ho = 0, Wo = 0;
  double sh = 0, sw = 0;  // source-per-destination scales
  bool bilinear = false, align_corners = false;
  int64_t outputs() const { return P * Ho * Wo; }
};

// Up to 4 source taps (index within the plane, weight) for output (oh, ow).
struct Taps {
  int64_t idx[4];
  double w[4];
  int n;
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

HD inline Taps taps(const InterpGeom& g, int64_t oh, int64_t ow) {
  Taps t;
  if (!g.bilinear) {
    t.n = 1;
    t.idx[0] = axis_nearest(g.sh, oh, g.H, g.Ho) * g.W + axis_nearest(g.sw, ow, g.W, g.Wo);
    t.w[0] = 1;
    return t;
  }
  int64_t h0, h1, w0, w1;
  double lh, lw;
  axis_linear(g.sh, g.align_corners, oh, g.H, &h0, &h1, &lh);
  axis_linear(g.sw, g.align_corners, ow, g.W, &w0, &w1, &lw);
  t.n = 4;
  t.idx[0] = h0 * g.W + w0, t.w[0] = (1 - lh) * (1 - lw);
  t.idx[1] = h0 * g.W + w1, t.w[1] = (1 - lh) * lw;
  t.idx[2] = h1 * g.W + w0, t.w[2] = lh * (1 - lw);
  t.idx[3] = h1 * g.W + w1, t.w[3] = lh * lw;
  return t;
}

struct InterpolateBackward : autograd::Node {
  InterpGeom g;
  Shape in_shape;
  const char* name() const override { return g.bilinear ? "UpsampleBilinear2dBackward" : "UpsampleNearest2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor dy = grads[0].contiguous();
    Tensor dx = Tensor::zeros(in_shape, dy.dtype(), dy.device());
    InterpGeom q = g;
    VPS_DISPATCH_FLOAT(dy.dtype(), "interpolate backward", [&] {
      using T = scalar_t;
      const T* pg = dy.data<T>();
      T* pdx = dx.data<T>();
      parallel_for(dy.device(), q.outputs(), VPS_LAMBDA(int64_t o) {
        int64_t ow = o % q.Wo, oh = (o / q.Wo) % q.Ho, plane = o / (q.Ho * q.Wo);
        Taps t = taps(q, oh, ow);
        T* p = pdx + plane * q.H * q.W;
        for (int k = 0; k < t.n; ++k) atomic_add(p + t.idx[k], T(t.w[k] * double(pg[o])));
      });
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
  VPS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(x.device(), g.outputs(), VPS_LAMBDA(int64_t o) {
      int64_t ow = o % g.Wo, oh = (o / g.Wo) % g.Ho, plane = o / (g.Ho * g.Wo);
      Taps t = taps(g, oh, ow);
      const T* p = px + plane * g.H * g.W;
      double s = 0;
      for (int k = 0; k < t.n; ++k) s += t.w[k] * double(p[t.idx[k]]);
      py[o] = T(s);
    });
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
