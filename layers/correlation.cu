// FlowNetC's correlation (spec A.3.1), kernel_size 1 and stride1 1, forward and both adjoints as
// gathers (no atomics). With o = max_displacement - pad_size and d = stride2 * (t - R):
//   out[n, tj*D + ti, y, x] = (1/C) sum_c f1[n, c, y + o, x + o] * f2[n, c, y + o + dj, x + o + di]
// (both maps 0 outside the image), so
//   g1[n, c, p] = (1/C) sum_t gout[n, t, p - o]     * f2[n, c, p + d_t]
//   g2[n, c, q] = (1/C) sum_t gout[n, t, q - d_t - o] * f1[n, c, q - d_t]
// over the (t, pixel) pairs whose indices are in range. The bodies run on CPU and CUDA; only the
// layout differs: CUDA reads NCHW (threads along x touch adjacent addresses), CPU transposes the maps
// to NHWC once so that the channel loops are contiguous and vectorise.
#include "autograd/node.h"
#include "layers/flow_ops.h"
#include "tensor/hd.h"

namespace vps {
namespace {

struct CorrGeom {
  int64_t N = 0, C = 0, H = 0, W = 0, Ho = 0, Wo = 0;
  int64_t off = 0;  // o: output pixel (y, x) centres at image pixel (y + o, x + o)
  int64_t R = 0, D = 1, s2 = 1;
};

// Element strides of a 4-D map: batch, channel (or displacement), row, column.
struct MapLayout {
  int64_t n, c, y, x;
};
MapLayout layout_of(bool nhwc, int64_t C, int64_t H, int64_t W) {
  return nhwc ? MapLayout{H * W * C, 1, W * C, C} : MapLayout{C * H * W, H * W, W, 1};
}

HD inline bool inside(int64_t v, int64_t n) { return v >= 0 && v < n; }

// sum_c a[c * cs] * b[c * cs] in 8 partial sums (independent chains; with cs == 1 they vectorise).
template <class T, bool kUnit>
HD inline T channel_dot(const T* a, const T* b, int64_t n, int64_t cs) {
  if (kUnit) cs = 1;
  T acc[8] = {};
  int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[(c + j) * cs] * b[(c + j) * cs];
  T r = T(0);
  for (; c < n; ++c) r += a[c * cs] * b[c * cs];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + r;
}

// Forward: item (n, y, tj, span of x) writes out[n, tj*D + ti, y, x] for every ti of the span.
// kNHWC: the maps are channels-last (CPU).
template <class T, bool kNHWC>
struct CorrForwardBody {
  CorrGeom g;
  MapLayout l;
  const T* f1;
  const T* f2;
  T* out;  // (N, D*D, Ho, Wo)
  int64_t span;
  HD void operator()(int64_t i) const {
    int64_t spans = (g.Wo + span - 1) / span, x0 = (i % spans) * span, r = i / spans;
    int64_t tj = r % g.D, y = (r / g.D) % g.Ho, n = r / (g.D * g.Ho);
    int64_t x1 = x0 + span < g.Wo ? x0 + span : g.Wo, plane = g.Ho * g.Wo;
    int64_t ya = y + g.off, yb = ya + g.s2 * (tj - g.R);
    bool rows_in = inside(ya, g.H) && inside(yb, g.H);
    T scale = T(1) / T(g.C);
    T* o = out + (n * g.D * g.D + tj * g.D) * plane + y * g.Wo;
    for (int64_t x = x0; x < x1; ++x) {
      int64_t xa = x + g.off;
      for (int64_t ti = 0; ti < g.D; ++ti) {
        int64_t xb = xa + g.s2 * (ti - g.R);
        T v = T(0);
        if (rows_in && inside(xa, g.W) && inside(xb, g.W))
          v = channel_dot<T, kNHWC>(f1 + n * l.n + ya * l.y + xa * l.x, f2 + n * l.n + yb * l.y + xb * l.x, g.C, l.c) *
              scale;
        o[ti * plane + x] = v;
      }
    }
  }
  int64_t count() const { return g.N * g.Ho * g.D * ((g.Wo + span - 1) / span); }
};

// Adjoint of one input as a gather. Item (n, channel group, row p_y, span of p_x).
// second = false: the gradient of f1 (other = f2); true: the gradient of f2 (other = f1).
// CPU (kNHWC, one item per row, all channels): the sum over displacements accumulates in the
// gradient row itself, vertical displacement outermost so that one row of `other` is read at a time
// (reading 21 rows 128 KiB apart per pixel thrashed the cache sets: 9x slower). CUDA: one (channel,
// pixel) per item, the sum in a register.
template <class T, bool kNHWC>
struct CorrBackwardBody {
  CorrGeom g;
  MapLayout l;   // of `other` and `grad`
  MapLayout gl;  // of gout: (n, displacement, y, x)
  const T* gout;
  const T* other;
  T* grad;
  bool second;
  int64_t group, span;  // channels per item (CPU: all, CUDA: 1), pixels per item (CPU: W, CUDA: 1)
  HD void operator()(int64_t i) const {
    int64_t spans = (g.W + span - 1) / span, groups = (g.C + group - 1) / group;
    int64_t px0 = (i % spans) * span, py = (i / spans) % g.H, r = i / (spans * g.H);
    int64_t cg = r % groups, n = r / groups, c0 = cg * group;
    int64_t px1 = px0 + span < g.W ? px0 + span : g.W, cn = c0 + group < g.C ? group : g.C - c0;
    const T* src_n = other + n * l.n + c0 * l.c;
    const T* go_n = gout + n * gl.n;
    T* dst = grad + n * l.n + py * l.y + c0 * l.c;
    T acc = T(0);  // CUDA: the one (channel, pixel)
    if constexpr (kNHWC)
      for (int64_t k = px0 * l.x; k < px1 * l.x; ++k) dst[k] = T(0);
    for (int64_t tj = 0; tj < g.D; ++tj) {
      int64_t dy = g.s2 * (tj - g.R), sy = second ? py - dy : py + dy, oy = (second ? sy : py) - g.off;
      if (!inside(sy, g.H) || !inside(oy, g.Ho)) continue;
      for (int64_t px = px0; px < px1; ++px)
        for (int64_t ti = 0; ti < g.D; ++ti) {
          int64_t dx = g.s2 * (ti - g.R), sx = second ? px - dx : px + dx, ox = (second ? sx : px) - g.off;
          if (!inside(sx, g.W) || !inside(ox, g.Wo)) continue;
          T gv = go_n[(tj * g.D + ti) * gl.c + oy * gl.y + ox * gl.x];
          const T* s = src_n + sy * l.y + sx * l.x;
          if constexpr (kNHWC) {
            T* d = dst + px * l.x;
            for (int64_t c = 0; c < cn; ++c) d[c] += gv * s[c];
          } else {
            acc += gv * s[0];
          }
        }
    }
    T scale = T(1) / T(g.C);
    if constexpr (kNHWC)
      for (int64_t k = px0 * l.x; k < px1 * l.x; ++k) dst[k] *= scale;
    else
      dst[px0 * l.x] = acc * scale;
  }
  int64_t count() const { return g.N * ((g.C + group - 1) / group) * g.H * ((g.W + span - 1) / span); }
};

Tensor to_nhwc(const Tensor& t) { return t.permute({0, 2, 3, 1}).contiguous(); }
Tensor to_nchw(const Tensor& t) { return t.permute({0, 3, 1, 2}).contiguous(); }

Tensor correlation_forward(const Tensor& f1, const Tensor& f2, const CorrGeom& g) {
  Device d = f1.device();
  Tensor out = Tensor::empty({g.N, g.D * g.D, g.Ho, g.Wo}, f1.dtype(), d);
  VPS_DISPATCH_FLOAT(f1.dtype(), "correlation", [&] {
    using T = scalar_t;
    if (d.is_cuda()) {
      CorrForwardBody<T, false> body{g, layout_of(false, g.C, g.H, g.W), f1.data<T>(), f2.data<T>(), out.data<T>(), 1};
      parallel_for(d, body.count(), body);
      return;
    }
    Tensor a = to_nhwc(f1), b = to_nhwc(f2);
    CorrForwardBody<T, true> body{g, layout_of(true, g.C, g.H, g.W), a.data<T>(), b.data<T>(), out.data<T>(), g.Wo};
    parallel_for(d, body.count(), body, g.Wo * g.D * g.C);
  });
  return out;
}

// The gradient of f1 (second = false) or of f2 (second = true); `other` is the other input (NCHW).
Tensor correlation_backward(const Tensor& gout_in, const Tensor& other, const CorrGeom& g, bool second) {
  Device d = other.device();
  Tensor gout = gout_in.contiguous();
  Tensor grad;
  VPS_DISPATCH_FLOAT(other.dtype(), "correlation backward", [&] {
    using T = scalar_t;
    if (d.is_cuda()) {
      grad = Tensor::empty(other.shape(), other.dtype(), d);
      CorrBackwardBody<T, false> body{g,     layout_of(false, g.C, g.H, g.W), layout_of(false, g.D * g.D, g.Ho, g.Wo),
                                         gout.data<T>(), other.data<T>(), grad.data<T>(), second, 1, 1};
      parallel_for(d, body.count(), body);
      return;
    }
    Tensor go = to_nhwc(gout), src = to_nhwc(other);
    Tensor gt = Tensor::empty(src.shape(), src.dtype(), d);
    CorrBackwardBody<T, true> body{g,     layout_of(true, g.C, g.H, g.W), layout_of(true, g.D * g.D, g.Ho, g.Wo),
                                       go.data<T>(), src.data<T>(), gt.data<T>(), second, g.C, g.W};
    parallel_for(d, body.count(), body, g.W * g.D * g.D * g.C);
    grad = to_nchw(gt);
  });
  return grad;
}

struct CorrelationBackward : autograd::Node {
  autograd::SavedTensor f1, f2;
  CorrGeom g;
  const char* name() const override { return "CorrelationBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    std::vector<Tensor> out(2);
    if (next[0].valid()) out[0] = correlation_backward(grads[0], f2.get(name()), g, false);
    if (next[1].valid()) out[1] = correlation_backward(grads[0], f1.get(name()), g, true);
    return out;
  }
  void release() override {
    f1.reset();
    f2.reset();
  }
};

CorrGeom make_geom(const Tensor& f1, const Tensor& f2, const CorrelationOptions& o) {
  VPS_CHECK(f1.defined() && f2.defined(), "correlation: both inputs must be defined");
  std::string shapes = str_cat(" (f1 ", shape_str(f1.shape()), ", f2 ", shape_str(f2.shape()), ")");
  VPS_CHECK(f1.dim() == 4 && f1.shape() == f2.shape(), "correlation: f1 and f2 must be (N, C, H, W) of one shape",
            shapes);
  VPS_CHECK((f1.dtype() == DType::f32 || f1.dtype() == DType::f64) && f2.dtype() == f1.dtype(),
            "correlation: f1 and f2 must share a float dtype (float32 or float64), got ", dtype_name(f1.dtype()),
            " and ", dtype_name(f2.dtype()), shapes);
  VPS_CHECK(f1.device() == f2.device(), "correlation: f1 and f2 are on different devices (", f1.device().str(),
            ", ", f2.device().str(), ")", shapes);
  VPS_CHECK(o.kernel_size == 1 && o.stride1 == 1, "correlation: only kernel_size 1 and stride1 1 are supported ",
            "(FlowNet2's), got kernel_size ", o.kernel_size, ", stride1 ", o.stride1);
  VPS_CHECK(o.pad_size >= 0 && o.max_displacement >= 0 && o.stride2 >= 1, "correlation: need pad_size >= 0, ",
            "max_displacement >= 0, stride2 >= 1, got ", o.pad_size, ", ", o.max_displacement, ", ", o.stride2);
  CorrGeom g;
  g.N = f1.size(0), g.C = f1.size(1), g.H = f1.size(2), g.W = f1.size(3);
  g.off = o.max_displacement - o.pad_size;
  g.Ho = g.H - 2 * g.off, g.Wo = g.W - 2 * g.off;  // (h + 2 pad - 2 max_displacement) / stride1
  VPS_CHECK(g.C > 0 && g.H > 0 && g.W > 0 && g.Ho > 0 && g.Wo > 0, "correlation: empty output ", g.Ho, "x", g.Wo, " for pad_size ",
            o.pad_size, " and max_displacement ", o.max_displacement, shapes);
  g.R = o.max_displacement / o.stride2, g.D = 2 * g.R + 1, g.s2 = o.stride2;
  return g;
}

}  // namespace

Tensor correlation(const Tensor& f1_in, const Tensor& f2_in, const CorrelationOptions& o) {
  CorrGeom g = make_geom(f1_in, f2_in, o);
  Tensor f1 = f1_in.contiguous(), f2 = f2_in.contiguous();
  Tensor out = correlation_forward(f1, f2, g);
  if (autograd::needs_grad({f1_in, f2_in})) {
    auto node = std::make_shared<CorrelationBackward>();
    node->f1 = f1;
    node->f2 = f2;
    node->g = g;
    autograd::record(node, {f1_in, f2_in}, {out});
  }
  return out;
}

}  // namespace vps
