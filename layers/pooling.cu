// max_pool2d, avg_pool2d, adaptive_avg_pool2d: one output element per thread (max_pool2d forward: a
// row span per call on CPU); backward scatters into the input gradient with atomic_add on CUDA and
// one plane per call with plain adds on CPU. Bodies are shared by the CPU and CUDA builds.
#include "layers/pooling.h"

#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "layers/kernels/row_span.h"
#include "tensor/hd.h"

namespace vps {

namespace {

// Geometry of one pooling call, passed by value into kernels.
struct PoolGeom {
  int64_t P = 0, H = 0, W = 0, Ho = 0, Wo = 0;  // P = N*C planes
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool ceil_mode = false, count_include_pad = true;
  int64_t outputs() const { return P * Ho * Wo; }
};

void check_input(const char* op, const Tensor& x) {
  VPS_CHECK(x.defined() && x.dim() == 4, op, ": expected input (N, C, H, W), got ",
            x.defined() ? shape_str(x.shape()) : "undefined");
  VPS_CHECK(is_floating(x.dtype()), op, ": expected a float input, got ", dtype_name(x.dtype()), " ", shape_str(x.shape()));
}

PoolGeom make_geom(const char* op, const Tensor& x, Pair k, Pair s, Pair p, Pair d, bool ceil_mode) {
  check_input(op, x);
  if (s[0] == 0 && s[1] == 0) s = k;
  VPS_CHECK(k[0] > 0 && k[1] > 0 && s[0] > 0 && s[1] > 0 && d[0] > 0 && d[1] > 0 && p[0] >= 0 && p[1] >= 0, op,
            ": kernel, stride and dilation must be positive and padding non-negative (input ", shape_str(x.shape()), ")");
  VPS_CHECK(p[0] <= k[0] / 2 && p[1] <= k[1] / 2, op, ": padding (", p[0], ", ", p[1],
            ") must be at most half the kernel (", k[0], ", ", k[1], ")");
  PoolGeom g;
  g.P = x.size(0) * x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  g.kh = k[0], g.kw = k[1], g.sh = s[0], g.sw = s[1], g.ph = p[0], g.pw = p[1], g.dh = d[0], g.dw = d[1];
  g.ceil_mode = ceil_mode;
  g.Ho = pool_output_size(g.H, g.kh, g.sh, g.ph, g.dh, ceil_mode);
  g.Wo = pool_output_size(g.W, g.kw, g.sw, g.pw, g.dw, ceil_mode);
  VPS_CHECK(g.Ho > 0 && g.Wo > 0, op, ": output size (", g.Ho, ", ", g.Wo, ") is too small for input ",
            shape_str(x.shape()), " with kernel (", k[0], ", ", k[1], ")");
  return g;
}

Shape out_shape(const Tensor& x, int64_t Ho, int64_t Wo) { return {x.size(0), x.size(1), Ho, Wo}; }

// Kernel taps t in [0, k) whose input coordinate start + t*d lies in [0, n): [t0, t1).
HD inline void valid_taps(int64_t start, int64_t k, int64_t d, int64_t n, int64_t& t0, int64_t& t1) {
  t0 = start >= 0 ? 0 : (-start + d - 1) / d;
  t1 = start + (k - 1) * d < n ? k : (n - 1 - start) / d + 1;
  if (n - 1 - start < 0) t1 = 0;
  if (t1 < t0) t1 = t0;
}

// max_pool2d forward: index i over (plane, oh, span of ow); span = Wo on CPU, 1 on CUDA. The first
// maximum in window order wins (the first NaN if any: NaN propagates, as in PyTorch); idx gets its
// index within the plane.
template <class T>
struct MaxPoolBody {
  PoolGeom g;
  const T* x;
  T* y;
  int64_t* idx;
  int64_t span;
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, g.Wo, span);
    int64_t row = rs.row, ow0 = rs.k0, ow1 = rs.k1;  // row = plane * Ho + oh
    int64_t oh = row % g.Ho, plane = row / g.Ho;
    int64_t hs = oh * g.sh - g.ph, i0, i1;
    valid_taps(hs, g.kh, g.dh, g.H, i0, i1);
    const T* p = x + plane * g.H * g.W;
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      int64_t ws = ow * g.sw - g.pw, j0, j1;
      valid_taps(ws, g.kw, g.dw, g.W, j0, j1);
      // Two passes over the window (it is in L1): the maximum (NaN wins) with selects, then the first
      // tap equal to it. Avoids a data-dependent branch per tap.
      double best = -INFINITY;
      bool nan = false;
      for (int64_t a = i0; a < i1; ++a) {
        const T* r = p + (hs + a * g.dh) * g.W + ws;
        for (int64_t b = j0; b < j1; ++b) {
          double v = double(r[b * g.dw]);
          nan |= v != v;
          best = v > best ? v : best;
        }
      }
      int64_t arg = -1;
      for (int64_t a = i0; a < i1 && arg < 0; ++a) {
        const T* r = p + (hs + a * g.dh) * g.W + ws;
        for (int64_t b = j0; b < j1; ++b) {
          double v = double(r[b * g.dw]);
          if (nan ? v != v : v == best) {
            arg = (hs + a * g.dh) * g.W + ws + b * g.dw;
            best = v;
            break;
          }
        }
      }
      y[row * g.Wo + ow] = T(best);
      idx[row * g.Wo + ow] = arg < 0 ? 0 : arg;
    }
  }
  int64_t count() const { return g.P * g.Ho * ((g.Wo + span - 1) / span); }
};

// max_pool2d forward without indices (inference): index i as in MaxPoolBody. Per output the taps are
// visited in the same order with the same rule (first maximum, first NaN), so values are identical;
// the loop over ow is innermost on interior outputs (whole window inside the row) so it vectorizes.
template <class T>
struct MaxPoolValuesBody {
  PoolGeom g;
  const T* x;
  T* y;
  int64_t span;
  HD static T take(T m, T v) { return m != m ? m : ((v > m || v != v) ? v : m); }
  HD void operator()(int64_t i) const {
    RowSpan rs = row_span(i, g.Wo, span);
    int64_t row = rs.row, ow0 = rs.k0, ow1 = rs.k1;  // row = plane * Ho + oh
    int64_t oh = row % g.Ho, plane = row / g.Ho;
    int64_t hs = oh * g.sh - g.ph, i0, i1;
    valid_taps(hs, g.kh, g.dh, g.H, i0, i1);
    const T* p = x + plane * g.H * g.W;
    T* yr = y + row * g.Wo;
    // Interior outputs [a0, a1): ow*sw - pw >= 0 and ow*sw - pw + (kw-1)*dw < W.
    int64_t a0 = (g.pw + g.sw - 1) / g.sw, last = g.W - 1 - (g.kw - 1) * g.dw + g.pw;
    int64_t a1 = last < 0 ? 0 : last / g.sw + 1;
    a0 = a0 < ow0 ? ow0 : a0 > ow1 ? ow1 : a0;
    a1 = a1 < a0 ? a0 : a1 > ow1 ? ow1 : a1;
    for (int64_t ow = ow0; ow < ow1; ++ow) yr[ow] = T(-INFINITY);
    for (int64_t a = i0; a < i1; ++a) {
      const T* r = p + (hs + a * g.dh) * g.W - g.pw;
      for (int64_t b = 0; b < g.kw; ++b) {
        const T* rb = r + b * g.dw;
        for (int64_t ow = a0; ow < a1; ++ow) yr[ow] = take(yr[ow], rb[ow * g.sw]);
      }
    }
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      if (ow == a0) ow = a1;
      if (ow >= ow1) break;
      int64_t ws = ow * g.sw - g.pw, j0, j1;
      valid_taps(ws, g.kw, g.dw, g.W, j0, j1);
      T m = T(-INFINITY);
      for (int64_t a = i0; a < i1; ++a)
        for (int64_t b = j0; b < j1; ++b) m = take(m, p[(hs + a * g.dh) * g.W + ws + b * g.dw]);
      yr[ow] = m;
    }
  }
  int64_t count() const { return g.P * g.Ho * ((g.Wo + span - 1) / span); }
};

struct MaxPoolBackward : autograd::Node {
  autograd::SavedTensor indices;
  PoolGeom g;
  Shape in_shape;
  const char* name() const override { return "MaxPool2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor idx = indices.get(name()), dy = grads[0].contiguous();
    Tensor dx = Tensor::zeros(in_shape, dy.dtype(), dy.device());
    PoolGeom q = g;
    VPS_DISPATCH_FLOAT(dy.dtype(), "max_pool2d backward", [&] {
      using T = scalar_t;
      const T* pg = dy.data<T>();
      const int64_t* pi = idx.data<int64_t>();
      T* pdx = dx.data<T>();
      // CPU: one plane per call, plain adds (one writer per plane); CUDA: one output per call, atomics.
      if (dy.device().is_cpu()) {
        int64_t L = q.Ho * q.Wo;
        parallel_for(dy.device(), q.P, VPS_KERNEL((int64_t plane) {
          T* d = pdx + plane * q.H * q.W;
          for (int64_t o = plane * L; o < (plane + 1) * L; ++o) d[pi[o]] += pg[o];
        }), L);
        return;
      }
      parallel_for(dy.device(), q.outputs(), VPS_KERNEL((int64_t o) {
        int64_t plane = o / (q.Ho * q.Wo);
        atomic_add(pdx + plane * q.H * q.W + pi[o], pg[o]);
      }));
    });
    return {dx};
  }
  void release() override { indices.reset(); }
};

// Scatters dy over each output's window (avg and adaptive avg backward).
struct AvgPoolBackward : autograd::Node {
  PoolGeom g;
  Shape in_shape;
  bool adaptive = false;
  const char* name() const override { return adaptive ? "AdaptiveAvgPool2dBackward" : "AvgPool2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override;
};

}  // namespace

int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;  // floor division
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x_in, Pair kernel, Pair stride, Pair padding,
                                                  Pair dilation, bool ceil_mode) {
  PoolGeom g = make_geom("max_pool2d", x_in, kernel, stride, padding, dilation, ceil_mode);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(out_shape(x, g.Ho, g.Wo), x.dtype(), x.device());
  Tensor idx = Tensor::empty(y.shape(), DType::i64, x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), "max_pool2d", [&] {
    using T = scalar_t;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t* pi = idx.data<int64_t>();
    MaxPoolBody<T> body{g, px, py, pi, x.device().is_cuda() ? 1 : g.Wo};
    parallel_for(x.device(), body.count(), body, body.span);
  });
  if (autograd::needs_grad({x_in})) {
    auto n = std::make_shared<MaxPoolBackward>();
    n->indices = idx;
    n->g = g;
    n->in_shape = x_in.shape();
    autograd::record(n, {x_in}, {y});
  }
  return {y, idx};
}

Tensor max_pool2d(const Tensor& x_in, Pair kernel, Pair stride, Pair padding, Pair dilation, bool ceil_mode) {
  if (autograd::needs_grad({x_in})) return max_pool2d_with_indices(x_in, kernel, stride, padding, dilation, ceil_mode).first;
  PoolGeom g = make_geom("max_pool2d", x_in, kernel, stride, padding, dilation, ceil_mode);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(out_shape(x, g.Ho, g.Wo), x.dtype(), x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), "max_pool2d", [&] {
    using T = scalar_t;
    MaxPoolValuesBody<T> body{g, x.data<T>(), y.data<T>(), x.device().is_cuda() ? 1 : g.Wo};
    parallel_for(x.device(), body.count(), body, body.span);
  });
  return y;
}

namespace {

// Window of output (oh, ow): rows [h0, h1), cols [w0, w1) clipped to the input, and the divisor.
struct Window {
  int64_t h0, h1, w0, w1;
  double div;
};

HD inline Window pool_window(const PoolGeom& g, bool adaptive, int64_t oh, int64_t ow) {
  Window r;
  if (adaptive) {
    r.h0 = (oh * g.H) / g.Ho;
    r.h1 = ((oh + 1) * g.H + g.Ho - 1) / g.Ho;
    r.w0 = (ow * g.W) / g.Wo;
    r.w1 = ((ow + 1) * g.W + g.Wo - 1) / g.Wo;
    r.div = double((r.h1 - r.h0) * (r.w1 - r.w0));
    return r;
  }
  int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  int64_t he = hs + g.kh < g.H + g.ph ? hs + g.kh : g.H + g.ph;
  int64_t we = ws + g.kw < g.W + g.pw ? ws + g.kw : g.W + g.pw;
  double padded = double((he - hs) * (we - ws));
  r.h0 = hs > 0 ? hs : 0;
  r.w0 = ws > 0 ? ws : 0;
  r.h1 = he < g.H ? he : g.H;
  r.w1 = we < g.W ? we : g.W;
  r.div = g.count_include_pad ? padded : double((r.h1 - r.h0) * (r.w1 - r.w0));
  return r;
}

Tensor avg_pool_impl(const Tensor& x_in, const PoolGeom& g, bool adaptive) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(out_shape(x, g.Ho, g.Wo), x.dtype(), x.device());
  VPS_DISPATCH_FLOAT(x.dtype(), adaptive ? "adaptive_avg_pool2d" : "avg_pool2d", [&] {
    using T = scalar_t;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(x.device(), g.outputs(), VPS_KERNEL((int64_t o) {
      int64_t ow = o % g.Wo, oh = (o / g.Wo) % g.Ho, plane = o / (g.Ho * g.Wo);
      Window r = pool_window(g, adaptive, oh, ow);
      const T* p = px + plane * g.H * g.W;
      double s = 0;
      for (int64_t h = r.h0; h < r.h1; ++h)
        for (int64_t w = r.w0; w < r.w1; ++w) s += double(p[h * g.W + w]);
      py[o] = T(r.div > 0 ? s / r.div : 0);
    }));
  });
  if (autograd::needs_grad({x_in})) {
    auto n = std::make_shared<AvgPoolBackward>();
    n->g = g;
    n->in_shape = x_in.shape();
    n->adaptive = adaptive;
    autograd::record(n, {x_in}, {y});
  }
  return y;
}

std::vector<Tensor> AvgPoolBackward::backward(const std::vector<Tensor>& grads) {
  Tensor dy = grads[0].contiguous();
  Tensor dx = Tensor::zeros(in_shape, dy.dtype(), dy.device());
  PoolGeom q = g;
  bool ad = adaptive;
  VPS_DISPATCH_FLOAT(dy.dtype(), name(), [&] {
    using T = scalar_t;
    const T* pg = dy.data<T>();
    T* pdx = dx.data<T>();
    // CPU: one plane per call with plain adds (one writer per plane); CUDA: one output per call, atomics.
    bool per_plane = dy.device().is_cpu();
    int64_t L = q.Ho * q.Wo;
    parallel_for(dy.device(), per_plane ? q.P : q.outputs(), VPS_KERNEL((int64_t i) {
      int64_t o0 = per_plane ? i * L : i, o1 = per_plane ? o0 + L : i + 1;
      for (int64_t o = o0; o < o1; ++o) {
        int64_t ow = o % q.Wo, oh = (o / q.Wo) % q.Ho, plane = o / L;
        Window r = pool_window(q, ad, oh, ow);
        if (r.div <= 0) continue;
        T v = T(double(pg[o]) / r.div);
        T* p = pdx + plane * q.H * q.W;
        for (int64_t h = r.h0; h < r.h1; ++h)
          for (int64_t w = r.w0; w < r.w1; ++w) {
            if (per_plane)
              p[h * q.W + w] += v;
            else
              atomic_add(p + h * q.W + w, v);
          }
      }
    }), per_plane ? L : 1);
  });
  return {dx};
}

}  // namespace

Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride, Pair padding, bool ceil_mode, bool count_include_pad) {
  PoolGeom g = make_geom("avg_pool2d", x, kernel, stride, padding, {1, 1}, ceil_mode);
  g.count_include_pad = count_include_pad;
  return avg_pool_impl(x, g, false);
}

Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size) {
  check_input("adaptive_avg_pool2d", x);
  VPS_CHECK(output_size[0] > 0 && output_size[1] > 0 && x.size(2) > 0 && x.size(3) > 0,
            "adaptive_avg_pool2d: output size (", output_size[0], ", ", output_size[1], ") invalid for input ",
            shape_str(x.shape()));
  PoolGeom g;
  g.P = x.size(0) * x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  g.Ho = output_size[0];
  g.Wo = output_size[1];
  return avg_pool_impl(x, g, true);
}

}  // namespace vps
