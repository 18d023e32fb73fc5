// FlowNet2's Resample2d (spec A.3.2, kernel_size 1, bilinear): out[b,c,y,x] = img at
// (x + flow[b,0,y,x], y + flow[b,1,y,x]) with the corner indices clamped to the image after flooring
// and the weights left unchanged (replicate border). One tap rule (resample_tap) serves the forward,
// the image adjoint (a scatter: per channel plane on CPU, atomic_add on CUDA) and the flow gradient
// (a gather: the derivative of the forward formula with the clamped corners held fixed).
// All clamps use the image size; the original clamps its forward with the flow's size, which differs
// only when the flow and the image differ in size (never in FlowNet2).
#include "autograd/node.h"
#include "layers/flow_ops.h"
#include "layers/kernels/row_span.h"
#include "tensor/hd.h"

namespace vps {
namespace {

struct ResampleGeom {
  int64_t B = 0, C = 0, H = 0, W = 0, Hf = 0, Wf = 0;  // image (B, C, H, W), flow (B, 2, Hf, Wf)
};

// Corner offsets (into one H x W plane) and the fractions a (along x) and b (along y) of one sample.
template <class T>
struct Tap {
  int64_t tl, tr, bl, br;
  T a, b;
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
  return t;
}

// Forward: item (b, y, span of x), every channel of each pixel (the tap is computed once per pixel).
template <class T>
struct ResampleForwardBody {
  ResampleGeom g;
  const T* img;
  const T* flow;
  T* out;
  int64_t span;
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, g.Wf, span);
    int64_t y = rs.row % g.Hf, b = rs.row / g.Hf, plane = g.H * g.W, fplane = g.Hf * g.Wf;
    const T* im = img + b * g.C * plane;
    T* o = out + b * g.C * fplane + y * g.Wf;
    for (int64_t x = rs.k0; x < rs.k1; ++x) {
      Tap<T> t = resample_tap(g, flow + b * 2 * fplane, y, x);
      T wtl = (T(1) - t.a) * (T(1) - t.b), wtr = t.a * (T(1) - t.b), wbl = (T(1) - t.a) * t.b, wbr = t.a * t.b;
      for (int64_t c = 0; c < g.C; ++c) {
        const T* p = im + c * plane;
        o[c * fplane + x] = wtl * p[t.tl] + wtr * p[t.tr] + wbl * p[t.bl] + wbr * p[t.br];
      }
    }
  }
  int64_t count() const { return g.B * g.Hf * ((g.Wf + span - 1) / span); }
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
  HD void add(T* p, T v) const {
    if (per_plane)
      *p += v;
    else
      atomic_add(p, v);
  }
  HD void operator()(int64_t i) const {
    int64_t fplane = g.Hf * g.Wf, plane = g.H * g.W;
    int64_t b = per_plane ? i / g.C : i / fplane, c0 = per_plane ? i % g.C : 0, c1 = per_plane ? c0 + 1 : g.C;
    int64_t k0 = per_plane ? 0 : i % fplane, k1 = per_plane ? fplane : k0 + 1;
    for (int64_t k = k0; k < k1; ++k) {
      Tap<T> t = resample_tap(g, flow + b * 2 * fplane, k / g.Wf, k % g.Wf);
      T wtl = (T(1) - t.a) * (T(1) - t.b), wtr = t.a * (T(1) - t.b), wbl = (T(1) - t.a) * t.b, wbr = t.a * t.b;
      for (int64_t c = c0; c < c1; ++c) {
        T gv = gout[(b * g.C + c) * fplane + k];
        T* p = gimg + (b * g.C + c) * plane;
        add(p + t.tl, wtl * gv);
        add(p + t.tr, wtr * gv);
        add(p + t.bl, wbl * gv);
        add(p + t.br, wbr * gv);
      }
    }
  }
  int64_t count() const { return per_plane ? g.B * g.C : g.B * g.Hf * g.Wf; }
};

// Flow gradient: item (b, y, span of x), summed over the channels; a clamped axis (both corners on
// one index) contributes 0, as in the original.
template <class T>
struct ResampleFlowGradBody {
  ResampleGeom g;
  const T* gout;
  const T* img;
  const T* flow;
  T* gflow;
  int64_t span;
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, g.Wf, span);
    int64_t y = rs.row % g.Hf, b = rs.row / g.Hf, plane = g.H * g.W, fplane = g.Hf * g.Wf;
    const T* im = img + b * g.C * plane;
    const T* go = gout + b * g.C * fplane + y * g.Wf;
    T* gf = gflow + b * 2 * fplane + y * g.Wf;
    for (int64_t x = rs.k0; x < rs.k1; ++x) {
      Tap<T> t = resample_tap(g, flow + b * 2 * fplane, y, x);
      T gu = T(0), gv = T(0);
      for (int64_t c = 0; c < g.C; ++c) {
        const T* p = im + c * plane;
        T o = go[c * fplane + x];
        gu += o * ((T(1) - t.b) * (p[t.tr] - p[t.tl]) + t.b * (p[t.br] - p[t.bl]));
        gv += o * ((T(1) - t.a) * (p[t.bl] - p[t.tl]) + t.a * (p[t.br] - p[t.tr]));
      }
      gf[x] = gu;
      gf[fplane + x] = gv;
    }
  }
  int64_t count() const { return g.B * g.Hf * ((g.Wf + span - 1) / span); }
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
        ResampleFlowGradBody<T> body{g, go.data<T>(), im.data<T>(), fl.data<T>(), out[1].data<T>(),
                                     d.is_cuda() ? 1 : g.Wf};
        parallel_for(d, body.count(), body, body.span * g.C);
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
    ResampleForwardBody<T> body{g, img.data<T>(), flow.data<T>(), out.data<T>(), img.device().is_cuda() ? 1 : g.Wf};
    parallel_for(img.device(), body.count(), body, body.span * g.C);
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
