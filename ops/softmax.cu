// softmax / log_softmax along one dim, L2 norm over dims, and l2_normalize.
// Softmax rows: the input is made contiguous and viewed as (outer, n, inner); each (outer, inner)
// pair is one row of n elements at stride `inner`, processed by one HD body (an OpenMP iteration on
// CPU, a thread on CUDA). Accumulation is in the tensor's own type after subtracting the row max.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "ops/elementwise_kernels.h"
#include "ops/ops.h"
#include "ops/reduce_kernels.h"

namespace vps {

namespace {

struct RowLayout {
  int64_t outer = 1, n = 1, inner = 1;
};

RowLayout row_layout(const Shape& s, int64_t dim) {
  RowLayout l;
  for (int64_t d = 0; d < int64_t(s.size()); ++d) {
    if (d < dim) l.outer *= s[size_t(d)];
    else if (d == dim) l.n = s[size_t(d)];
    else l.inner *= s[size_t(d)];
  }
  return l;
}

// exp used by the softmax rows: ::exp for double; for float a Cephes-style polynomial (max relative
// error about 2 ulp) with selects instead of branches, the same arithmetic on CPU and CUDA.
// Arguments below -87.3 (also -inf) give 0; NaN stays NaN. On CPU the float row helpers are
// compiled without trapping-math so that GCC if-converts the selects and vectorises the loops
// (host compilers only: __CUDA_ARCH__ is defined in nvcc's device pass alone). An attribute, not
// `#pragma GCC optimize`, because nvcc's front end drops that pragma before the host compiler runs.
#if !defined(__CUDA_ARCH__) && defined(__GNUC__) && !defined(__clang__)
#define VPS_NO_TRAPPING_MATH __attribute__((optimize("no-trapping-math")))
#else
#define VPS_NO_TRAPPING_MATH
#endif
template <class T>
struct RowExp {
  HD VPS_NO_TRAPPING_MATH static T eval(T x) { return ::exp(x); }
};
template <>
struct RowExp<float> {
  HD VPS_NO_TRAPPING_MATH static float eval(float x) {
    float xc = x > 88.0f ? 88.0f : x;
    xc = xc < -87.3f ? -87.3f : xc;
    float t = xc * 1.44269504088896341f + 0.5f;
    t = t == t ? t : 0.0f;                          // NaN: no undefined int conversion (p stays NaN)
    int32_t ni = int32_t(t) - int32_t(t < 0.0f);  // floor(t) without a libm call
    float n = float(ni);
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (ni + 127) << 23;
#ifdef __CUDA_ARCH__
    float scale = __int_as_float(bits);
#else
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
#endif
    return p * scale * float(!(x < -87.3f));  // NaN stays NaN through p
  }
};

// One contiguous row (inner == 1) as simple loops: exp, then sum, then scale.
#if defined(__CUDA_ARCH__)
#define VPS_SIMD_REDUCE(op, var)
#else
#define VPS_SIMD_REDUCE(op, var) _Pragma(VPS_STR_(omp simd reduction(op : var)))
#define VPS_STR_(x) #x
#endif
template <class T>
HD inline __attribute__((always_inline)) VPS_NO_TRAPPING_MATH void softmax_row_body(const T* __restrict__ x, T* __restrict__ y, int64_t n,
                                                               bool log_out) {
  T m = x[0];
  VPS_SIMD_REDUCE(max, m)
  for (int64_t j = 1; j < n; ++j) m = x[j] > m ? x[j] : m;
  T s = 0;
  if (log_out) {
    for (int64_t j = 0; j < n; ++j) y[j] = RowExp<T>::eval(x[j] - m);
    VPS_SIMD_REDUCE(+, s)
    for (int64_t j = 0; j < n; ++j) s += y[j];
    T ls = m + ::log(s);
    for (int64_t j = 0; j < n; ++j) y[j] = x[j] - ls;
    return;
  }
  for (int64_t j = 0; j < n; ++j) y[j] = RowExp<T>::eval(x[j] - m);
  VPS_SIMD_REDUCE(+, s)
  for (int64_t j = 0; j < n; ++j) s += y[j];
  T inv = T(1) / s;
  for (int64_t j = 0; j < n; ++j) y[j] *= inv;
}

// The CPU instance of the row, in both builds compiled by the host compiler: on x86-64 with GCC an
// AVX2/FMA clone is picked at load time where the CPU has it (the build targets x86-64-v2).
#define VPS_ROW_FN __attribute__((noinline)) VPS_AVX2_CLONE
template <class T>
VPS_ROW_FN VPS_NO_TRAPPING_MATH void softmax_row_cpu(const T* __restrict__ x, T* __restrict__ y, int64_t n, bool log_out) {
  softmax_row_body(x, y, n, log_out);
}

template <class T>
HD inline void softmax_row_contig(const T* x, T* y, int64_t n, bool log_out) {
#ifdef __CUDA_ARCH__
  softmax_row_body(x, y, n, log_out);
#else
  softmax_row_cpu(x, y, n, log_out);
#endif
}

// The combine of the CUDA softmax passes' row max (their row sums use Plus).
template <class T>
struct MaxOp {
  HD T operator()(T a, T b) const { return b > a ? b : a; }
};

// Offset of element j of softmax row r in an (outer, n, inner) layout.
HD inline int64_t row_elem(int64_t r, int64_t j, int64_t n, int64_t inner) {
  return (r / inner) * n * inner + r % inner + j * inner;
}

// CUDA: a thread per row would leave most of the GPU idle and read rows uncoalesced, so the row max
// and the row sum of exp are block reductions (parallel_reduce_rows) and the output an elementwise
// pass -- the same RowExp arithmetic as the CPU rows, in three launches.
template <class T>
void softmax_rows_cuda(const T* x, T* y, RowLayout l, bool log_out, Device dev) {
  int64_t n = l.n, inner = l.inner, rows = l.outer * inner;
  Tensor stats = Tensor::empty({rows, 2}, dtype_of<T>::value, dev);  // (max, sum of exp) per row
  T* st = stats.data<T>();
  parallel_reduce_rows(dev, rows, n, T(-INFINITY), VPS_KERNEL((int64_t r, int64_t j) { return x[row_elem(r, j, n, inner)]; }),
                       MaxOp<T>{}, VPS_KERNEL((int64_t r, T v) { st[2 * r] = v; }));
  parallel_reduce_rows(dev, rows, n, T(0), VPS_KERNEL((int64_t r, int64_t j) {
    return RowExp<T>::eval(x[row_elem(r, j, n, inner)] - st[2 * r]);
  }), Plus{}, VPS_KERNEL((int64_t r, T v) { st[2 * r + 1] = v; }));
  parallel_for(dev, rows * n, VPS_KERNEL((int64_t i) {
    int64_t r = i / n, k = row_elem(r, i % n, n, inner);
    T m = st[2 * r], s = st[2 * r + 1];
    y[k] = log_out ? x[k] - (m + T(::log(s))) : RowExp<T>::eval(x[k] - m) * (T(1) / s);
  }));
}

// y: (outer, n, inner) softmax (or log_softmax) of x along n.
template <class T>
void softmax_rows(const T* x, T* y, RowLayout l, bool log_out, Device dev) {
  if (dev.is_cuda()) return softmax_rows_cuda(x, y, l, log_out, dev);
  int64_t n = l.n, inner = l.inner;
  parallel_for(dev, l.outer * inner, VPS_KERNEL((int64_t r) {
    int64_t base = (r / inner) * n * inner + r % inner;
    const T* xr = x + base;
    T* yr = y + base;
    if (inner == 1) {
      softmax_row_contig<T>(xr, yr, n, log_out);
      return;
    }
    T m = xr[0];
    for (int64_t j = 1; j < n; ++j) m = xr[j * inner] > m ? xr[j * inner] : m;
    T s = 0;
    if (log_out) {
      for (int64_t j = 0; j < n; ++j) s += RowExp<T>::eval(xr[j * inner] - m);
      T ls = m + ::log(s);
      for (int64_t j = 0; j < n; ++j) yr[j * inner] = xr[j * inner] - ls;
    } else {
      for (int64_t j = 0; j < n; ++j) {
        T e = RowExp<T>::eval(xr[j * inner] - m);
        yr[j * inner] = e;
        s += e;
      }
      T inv = T(1) / s;
      for (int64_t j = 0; j < n; ++j) yr[j * inner] *= inv;
    }
  }), n);
}

// gx from g and the forward output y: softmax y*(g - sum(g*y)); log_softmax g - exp(y)*sum(g).
// CUDA: the row sum as a block reduction, then an elementwise pass.
template <class T>
void softmax_backward_rows_cuda(const T* y, const T* g, T* gx, RowLayout l, bool log_out, Device dev) {
  int64_t n = l.n, inner = l.inner, rows = l.outer * inner;
  Tensor sums = Tensor::empty({rows}, dtype_of<T>::value, dev);
  T* ps = sums.data<T>();
  parallel_reduce_rows(dev, rows, n, T(0), VPS_KERNEL((int64_t r, int64_t j) {
    int64_t k = row_elem(r, j, n, inner);
    return log_out ? g[k] : g[k] * y[k];
  }), Plus{}, VPS_KERNEL((int64_t r, T v) { ps[r] = v; }));
  parallel_for(dev, rows * n, VPS_KERNEL((int64_t i) {
    int64_t r = i / n, k = row_elem(r, i % n, n, inner);
    T s = ps[r];
    gx[k] = log_out ? g[k] - ::exp(y[k]) * s : y[k] * (g[k] - s);
  }));
}

template <class T>
void softmax_backward_rows(const T* y, const T* g, T* gx, RowLayout l, bool log_out, Device dev) {
  if (dev.is_cuda()) return softmax_backward_rows_cuda(y, g, gx, l, log_out, dev);
  int64_t n = l.n, inner = l.inner;
  parallel_for(dev, l.outer * inner, VPS_KERNEL((int64_t r) {
    int64_t base = (r / inner) * n * inner + r % inner;
    const T* yr = y + base;
    const T* gr = g + base;
    T* o = gx + base;
    T s = 0;
    for (int64_t j = 0; j < n; ++j) s += log_out ? gr[j * inner] : gr[j * inner] * yr[j * inner];
    for (int64_t j = 0; j < n; ++j) {
      int64_t k = j * inner;
      o[k] = log_out ? gr[k] - ::exp(yr[k]) * s : yr[k] * (gr[k] - s);
    }
  }), n);
}

struct SoftmaxBackward : autograd::Node {
  autograd::SavedTensor y;
  RowLayout layout;
  bool log_out = false;
  const char* name() const override { return log_out ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor yy = y.get(name()), go = g[0].contiguous();
    Tensor gx = Tensor::empty(yy.shape(), yy.dtype(), yy.device());
    VPS_DISPATCH_FLOAT(yy.dtype(), name(), [&] {
      softmax_backward_rows<scalar_t>(yy.data<scalar_t>(), go.data<scalar_t>(), gx.data<scalar_t>(), layout, log_out,
                                      yy.device());
    });
    return {gx};
  }
  void release() override { y.reset(); }
};

Tensor softmax_impl(const char* op, const Tensor& a, int64_t dim, bool log_out) {
  check_float(op, a);
  VPS_CHECK(a.dim() > 0, op, ": expected at least one dimension, got ", a.str());
  VPS_CHECK(dim >= -a.dim() && dim < a.dim(), op, ": dimension ", dim, " out of range for shape ",
            shape_str(a.shape()));
  int64_t d = dim < 0 ? dim + a.dim() : dim;
  Tensor x = a.contiguous();
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  RowLayout l = row_layout(a.shape(), d);
  if (a.numel() > 0) {
    VPS_DISPATCH_FLOAT(a.dtype(), op, [&] {
      softmax_rows<scalar_t>(x.data<scalar_t>(), y.data<scalar_t>(), l, log_out, a.device());
    });
  }
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<SoftmaxBackward>();
    n->y = y;
    n->layout = l;
    n->log_out = log_out;
    autograd::record(n, {a}, {y});
  }
  return y;
}

// Functors of norm and its backward (passed on to reduce_rows' and ternary_kernel's kernels).
template <class T>
struct SqrtFinish {
  HD T operator()(double acc, int64_t) const { return T(::sqrt(acc)); }
};
struct NormGradOp {  // d||x|| / dx = x / ||x|| (0 where the norm is 0)
  template <class T>
  HD T operator()(T v, T gr, T nr) const { return nr == T(0) ? T(0) : gr * v / nr; }
};

struct NormBackward : autograd::Node {
  autograd::SavedTensor x, out;
  Shape kept_shape;
  const char* name() const override { return "NormBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor xi = x.get(name()), nk = out.get(name()).reshape(kept_shape), gk = g[0].reshape(kept_shape);
    Tensor gx = Tensor::empty(xi.shape(), xi.dtype(), xi.device());
    VPS_DISPATCH_FLOAT(xi.dtype(), name(), [&] {
      using T = scalar_t;
      ternary_kernel<T, T, T, T>(gx, xi, gk, nk, NormGradOp{});
    });
    return {gx};
  }
  void release() override {
    x.reset();
    out.reset();
  }
};

}  // namespace

namespace {
// softmax_argmax's CPU body: one outer index and a chunk of up to kChunk consecutive inner positions
// (pixels), the positions in SIMD lanes and the n values of each row read plane by plane (contiguous
// kChunk-runs, no transposed copy). Per position: m = max, e_j = RowExp(x_j - m), s = sum of e_j in j
// order, p_j = e_j * (1 / s), the first largest p_j.
constexpr int64_t kArgmaxChunk = 256;  // runs of 1 KB a plane: fewer pages in flight than 64
template <class T>
VPS_AVX2_CLONE VPS_NO_TRAPPING_MATH void softmax_argmax_chunk(const T* __restrict__ x, int64_t n, int64_t inner,
                                                               int64_t cnt, T* __restrict__ e, int64_t* __restrict__ out) {
  T m[kArgmaxChunk], s[kArgmaxChunk], best[kArgmaxChunk];
  int32_t bi[kArgmaxChunk];  // 32-bit, as the float lanes: the compare-and-select loop vectorises
  for (int64_t k = 0; k < cnt; ++k) m[k] = x[k], s[k] = 0, bi[k] = 0;
  for (int64_t j = 1; j < n; ++j)
    for (int64_t k = 0; k < cnt; ++k) {
      T v = x[j * inner + k];
      m[k] = v > m[k] ? v : m[k];
    }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t k = 0; k < cnt; ++k) {
      T v = RowExp<T>::eval(x[j * inner + k] - m[k]);
      e[j * kArgmaxChunk + k] = v;
      s[k] += v;
    }
  for (int64_t k = 0; k < cnt; ++k) s[k] = T(1) / s[k], best[k] = e[k] * s[k];
  for (int32_t j = 1; j < int32_t(n); ++j)
    for (int64_t k = 0; k < cnt; ++k) {
      T p = e[j * kArgmaxChunk + k] * s[k];
      bool up = p > best[k];
      best[k] = up ? p : best[k];
      bi[k] = up ? j : bi[k];
    }
  // a NaN sum (a NaN in the row, or +inf - +inf) makes every p_j NaN: argmax's first NaN, 0
  for (int64_t k = 0; k < cnt; ++k) out[k] = s[k] != s[k] ? 0 : bi[k];
}

template <class T>
void softmax_argmax_cpu(const T* x, int64_t* out, RowLayout l) {
  const int64_t n = l.n, inner = l.inner, chunks = (inner + kArgmaxChunk - 1) / kArgmaxChunk;
  std::vector<T> bufs(size_t(omp_get_max_threads()) * size_t(n * kArgmaxChunk));
#pragma omp parallel for schedule(static)
  for (int64_t it = 0; it < l.outer * chunks; ++it) {
    const int64_t o = it / chunks, i0 = (it % chunks) * kArgmaxChunk;
    softmax_argmax_chunk(x + o * n * inner + i0, n, inner, std::min(kArgmaxChunk, inner - i0),
                         bufs.data() + size_t(omp_get_thread_num()) * size_t(n * kArgmaxChunk), out + o * inner + i0);
  }
}
}  // namespace

Tensor softmax_argmax(const Tensor& a, int64_t dim) {
  check_float("softmax_argmax", a);
  VPS_CHECK(a.dim() > 0 && dim >= -a.dim() && dim < a.dim(), "softmax_argmax: dimension ", dim,
            " out of range for shape ", shape_str(a.shape()));
  const int64_t d = dim < 0 ? dim + a.dim() : dim;
  VPS_CHECK(a.size(d) > 0, "softmax_argmax: cannot reduce an empty dimension of shape ", shape_str(a.shape()));
  if (!a.device().is_cpu()) {  // the two ops on the channels-last copy
    std::vector<int64_t> perm;
    for (int64_t k = 0; k < a.dim(); ++k)
      if (k != d) perm.push_back(k);
    perm.push_back(d);
    return argmax(softmax(contiguous(permute(a, perm)), -1), -1);
  }
  Shape out_shape = a.shape();
  out_shape.erase(out_shape.begin() + d);
  Tensor x = a.contiguous(), out = Tensor::empty(out_shape, DType::i64, kCPU);
  if (out.numel() == 0) return out;
  VPS_DISPATCH_FLOAT(a.dtype(), "softmax_argmax", [&] {
    softmax_argmax_cpu<scalar_t>(x.data<scalar_t>(), out.data<int64_t>(), row_layout(a.shape(), d));
  });
  return out;
}

Tensor softmax(const Tensor& a, int64_t dim) { return softmax_impl("softmax", a, dim, false); }
Tensor log_softmax(const Tensor& a, int64_t dim) { return softmax_impl("log_softmax", a, dim, true); }

Tensor norm(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_float("norm", a);
  ReducePlan p = make_reduce_plan("norm", a, dims, keepdim);
  Tensor out = Tensor::empty(p.out_shape, a.dtype(), a.device());
  VPS_DISPATCH_FLOAT(a.dtype(), "norm", [&] {
    using T = scalar_t;
    reduce_rows<T, double, T>(p, out, 0.0, SquareToDouble{}, Plus{}, SqrtFinish<T>{});
  });
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<NormBackward>();
    n->x = a;
    n->out = out;
    n->kept_shape = p.kept_shape;
    autograd::record(n, {a}, {out});
  }
  return out;
}

Tensor l2_normalize(const Tensor& a, int64_t dim, double eps) {
  check_float("l2_normalize", a);
  VPS_CHECK(eps >= 0, "l2_normalize: eps must be >= 0, got ", eps);
  VPS_CHECK(dim >= -a.dim() && dim < a.dim(), "l2_normalize: dimension ", dim, " out of range for shape ",
            shape_str(a.shape()));
  return div(a, clamp_min(norm(a, {dim}, true), eps));
}

}  // namespace vps
