// FlowNet2's Resample2d (spec A.3.2, kernel_size 1, bilinear): out[b,c,y,x] = img at
// (x + flow[b,0,y,x], y + flow[b,1,y,x]) with the corner indices clamped to the image after flooring
// and the weights left unchanged (replicate border). One tap rule (resample_tap) serves the forward,
// the image adjoint (a scatter: per channel plane on CPU, atomic_add on CUDA) and the flow gradient
// (a gather: the derivative of the forward formula with the clamped corners held fixed).
// All clamps use the image size; the original clamps its forward with the flow's size, which differs
// only when the flow and the image differ in size (never in FlowNet2).
#include <cmath>

#include "autograd/node.h"
#include "layers/flow_ops.h"
#include "layers/kernels/row_span.h"
#include "tensor/hd.h"

namespace vps {
namespace {

struct ResampleGeom {
  int64_t B = 0, C = 0, H = 0, W = 0, Hf = 0, Wf = 0;  // image (B, C, H, W), flow (B, 2, Hf, Wf)
};

// Corner offsets (into one H x W plane), the fractions a (along x) and b (along y) of one sample and
// the corners' bilinear weights.
template <class T>
struct Tap {
  int64_t tl = 0, tr = 0, bl = 0, br = 0;
  T a = T(0), b = T(0), wtl = T(0), wtr = T(0), wbl = T(0), wbr = T(0);
};

HD inline int64_t clamp_index(int64_t v, int64_t n) { return v < 0 ? 0 : (v > n - 1 ? n - 1 : v); }

// The coordinate is first limited to [-1, n]: the clamped corners and so the value and gradient do not
// change, and a huge or non-finite flow cannot overflow the integer conversion (NaN reads index 0).
template <class T>
HD inline void axis_tap(T f, int64_t n, int64_t* i0, int64_t* i1, T* frac) {
  f = f > T(-1) ? (f < T(n) ? f : T(n)) : T(-1);
  T fl = ::floor(f);
  *frac = f - fl;
  *i0 = clamp_index(int64_t(fl), n);
  *i1 = clamp_index(int64_t(fl) + 1, n);
}

template <class T>
HD inline Tap<T> resample_tap(const ResampleGeom& g, const T* flow_b, int64_t y, int64_t x) {
  int64_t fp = g.Hf * g.Wf, k = y * g.Wf + x;
  int64_t xl, xr, yt, yb;
  Tap<T> t;
  axis_tap(T(x) + flow_b[k], g.W, &xl, &xr, &t.a);
  axis_tap(T(y) + flow_b[fp + k], g.H, &yt, &yb, &t.b);
  t.tl = yt * g.W + xl, t.tr = yt * g.W + xr, t.bl = yb * g.W + xl, t.br = yb * g.W + xr;
  t.wtl = (T(1) - t.a) * (T(1) - t.b), t.wtr = t.a * (T(1) - t.b), t.wbl = (T(1) - t.a) * t.b, t.wbr = t.a * t.b;
  return t;
}

// Pixels per item: SPAN, 64 on CPU and 1 on CUDA (a thread per pixel). An item computes the taps of
// its pixels once and then sweeps the channels with pixels inner, so one channel plane is read at a
// time (the planes' equal offsets are a multiple of 4 KiB apart and share cache sets).
constexpr int kCpuSpan = 64;

// Forward: item (b, y, SPAN pixels of the row).
template <class T, int SPAN>
struct ResampleForwardBody {
  ResampleGeom g;
  const T* img;
  const T* flow;
  T* out;
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, g.Wf, SPAN);
    int64_t y = rs.row % g.Hf, b = rs.row / g.Hf, plane = g.H * g.W, fplane = g.Hf * g.Wf, n = rs.k1 - rs.k0;
    const T* im = img + b * g.C * plane;
    T* o = out + b * g.C * fplane + y * g.Wf + rs.k0;
    Tap<T> t[SPAN];
    for (int64_t k = 0; k < n; ++k) t[k] = resample_tap(g, flow + b * 2 * fplane, y, rs.k0 + k);
    for (int64_t c = 0; c < g.C; ++c) {
      const T* p = im + c * plane;
      for (int64_t k = 0; k < n; ++k)
        o[c * fplane + k] = t[k].wtl * p[t[k].tl] + t[k].wtr * p[t[k].tr] + t[k].wbl * p[t[k].bl] + t[k].wbr * p[t[k].br];
    }
  }
  int64_t count() const { return g.B * g.Hf * ((g.Wf + SPAN - 1) / SPAN); }
};

// Image adjoint into a zeroed grad. per_plane (CPU): item (b, c) sweeps every pixel of that channel
// (one writer per plane, plain adds); otherwise (CUDA): item (b, pixel), every channel, atomic_add.
template <class T>
struct ResampleImageGradBody {
  ResampleGeom g;
  const T* gout;
  const T* flow;
  T* gimg;
  bool per_plane;
  HD void add(T* p, T v) const { scatter_add(p, v, per_plane); }
  HD void operator()(int64_t i) const {
    int64_t fplane = g.Hf * g.Wf, plane = g.H * g.W;
    int64_t b = per_plane ? i / g.C : i / fplane, c0 = per_plane ? i % g.C : 0, c1 = per_plane ? c0 + 1 : g.C;
    int64_t k0 = per_plane ? 0 : i % fplane, k1 = per_plane ? fplane : k0 + 1;
    for (int64_t k = k0; k < k1; ++k) {
      Tap<T> t = resample_tap(g, flow + b * 2 * fplane, k / g.Wf, k % g.Wf);
      for (int64_t c = c0; c < c1; ++c) {
        T gv = gout[(b * g.C + c) * fplane + k];
        T* p = gimg + (b * g.C + c) * plane;
        add(p + t.tl, t.wtl * gv);
        add(p + t.tr, t.wtr * gv);
        add(p + t.bl, t.wbl * gv);
        add(p + t.br, t.wbr * gv);
      }
    }
  }
  int64_t count() const { return per_plane ? g.B * g.C : g.B * g.Hf * g.Wf; }
};

// Flow gradient: item (b, y, SPAN pixels of the row), summed over the channels; a clamped axis (both
// corners on one index) contributes 0, as in the original.
template <class T, int SPAN>
struct ResampleFlowGradBody {
  ResampleGeom g;
  const T* gout;
  const T* img;
  const T* flow;
  T* gflow;
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, g.Wf, SPAN);
    int64_t y = rs.row % g.Hf, b = rs.row / g.Hf, plane = g.H * g.W, fplane = g.Hf * g.Wf, n = rs.k1 - rs.k0;
    const T* im = img + b * g.C * plane;
    const T* go = gout + b * g.C * fplane + y * g.Wf + rs.k0;
    Tap<T> t[SPAN];
    T gu[SPAN], gv[SPAN];
    for (int64_t k = 0; k < n; ++k) {
      t[k] = resample_tap(g, flow + b * 2 * fplane, y, rs.k0 + k);
      gu[k] = gv[k] = T(0);
    }
    for (int64_t c = 0; c < g.C; ++c) {
      const T* p = im + c * plane;
      for (int64_t k = 0; k < n; ++k) {
        T o = go[c * fplane + k], a = t[k].a, bb = t[k].b;
        gu[k] += o * ((T(1) - bb) * (p[t[k].tr] - p[t[k].tl]) + bb * (p[t[k].br] - p[t[k].bl]));
        gv[k] += o * ((T(1) - a) * (p[t[k].bl] - p[t[k].tl]) + a * (p[t[k].br] - p[t[k].tr]));
      }
    }
    T* gf = gflow + b * 2 * fplane + y * g.Wf + rs.k0;
    for (int64_t k = 0; k < n; ++k) {
      gf[k] = gu[k];
      gf[fplane + k] = gv[k];
    }
  }
  int64_t count() const { return g.B * g.Hf * ((g.Wf + SPAN - 1) / SPAN); }
};

struct Resample2dBackward : autograd::Node {
  autograd::SavedTensor img, flow;
  ResampleGeom g;
  const char* name() const override { return "Resample2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor go = grads[0].contiguous(), im = img.get(name()), fl = flow.get(name());
    Device d = im.device();
    std::vector<Tensor> out(2);
    VPS_DISPATCH_FLOAT(im.dtype(), name(), [&] {
      using T = scalar_t;
      if (next[0].valid()) {
        out[0] = Tensor::zeros(im.shape(), im.dtype(), d);
        ResampleImageGradBody<T> body{g, go.data<T>(), fl.data<T>(), out[0].data<T>(), d.is_cpu()};
        parallel_for(d, body.count(), body, body.per_plane ? g.Hf * g.Wf : g.C);
      }
      if (next[1].valid()) {
        out[1] = Tensor::empty(fl.shape(), fl.dtype(), d);
        if (d.is_cuda()) {
          ResampleFlowGradBody<T, 1> body{g, go.data<T>(), im.data<T>(), fl.data<T>(), out[1].data<T>()};
          parallel_for(d, body.count(), body);
        } else {
          ResampleFlowGradBody<T, kCpuSpan> body{g, go.data<T>(), im.data<T>(), fl.data<T>(), out[1].data<T>()};
          parallel_for(d, body.count(), body, kCpuSpan * g.C);
        }
      }
    });
    return out;
  }
  void release() override {
    img.reset();
    flow.reset();
  }
};

}  // namespace

Tensor resample2d(const Tensor& img_in, const Tensor& flow_in) {
  VPS_CHECK(img_in.defined() && flow_in.defined(), "resample2d: image and flow must be defined");
  std::string shapes = str_cat(" (image ", shape_str(img_in.shape()), ", flow ", shape_str(flow_in.shape()), ")");
  VPS_CHECK(img_in.dim() == 4 && flow_in.dim() == 4 && flow_in.size(1) == 2 && flow_in.size(0) == img_in.size(0),
            "resample2d: expected image (B, C, H, W) and flow (B, 2, Hf, Wf)", shapes);
  VPS_CHECK((img_in.dtype() == DType::f32 || img_in.dtype() == DType::f64) && flow_in.dtype() == img_in.dtype(),
            "resample2d: image and flow must share a float dtype (float32 or float64), got ",
            dtype_name(img_in.dtype()), " and ", dtype_name(flow_in.dtype()), shapes);
  VPS_CHECK(img_in.device() == flow_in.device(), "resample2d: image and flow are on different devices (",
            img_in.device().str(), ", ", flow_in.device().str(), ")", shapes);
  VPS_CHECK(img_in.size(2) > 0 && img_in.size(3) > 0 && flow_in.size(2) > 0 && flow_in.size(3) > 0,
            "resample2d: empty image or flow", shapes);
  ResampleGeom g;
  g.B = img_in.size(0), g.C = img_in.size(1), g.H = img_in.size(2), g.W = img_in.size(3);
  g.Hf = flow_in.size(2), g.Wf = flow_in.size(3);
  Tensor img = img_in.contiguous(), flow = flow_in.contiguous();
  Tensor out = Tensor::empty({g.B, g.C, g.Hf, g.Wf}, img.dtype(), img.device());
  VPS_DISPATCH_FLOAT(img.dtype(), "resample2d", [&] {
    using T = scalar_t;
    if (img.device().is_cuda()) {
      ResampleForwardBody<T, 1> body{g, img.data<T>(), flow.data<T>(), out.data<T>()};
      parallel_for(img.device(), body.count(), body);
    } else {
      ResampleForwardBody<T, kCpuSpan> body{g, img.data<T>(), flow.data<T>(), out.data<T>()};
      parallel_for(img.device(), body.count(), body, kCpuSpan * g.C);
    }
  });
  if (autograd::needs_grad({img_in, flow_in})) {
    auto node = std::make_shared<Resample2dBackward>();
    node->img = img;
    node->flow = flow;
    node->g = g;
    autograd::record(node, {img_in, flow_in}, {out});
  }
  return out;
}

}  // namespace vps
