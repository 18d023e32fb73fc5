// Unary elementwise ops and their derivatives. Each op's forward and backward are one HD body.
#include <cmath>
#include <type_traits>

#include "autograd/node.h"
#include "ops/elementwise_kernels.h"
#include "ops/ops.h"

namespace vps {

namespace {

enum class Un { neg, exp, log, sqrt, abs, relu, leaky, sigmoid, tanh, clamp };

struct UnParams {
  Un op;
  double p0 = 0, p1 = 0;  // leaky slope, or clamp bounds
};

const char* un_name(Un op) {
  switch (op) {
    case Un::neg: return "neg";
    case Un::exp: return "exp";
    case Un::log: return "log";
    case Un::sqrt: return "sqrt";
    case Un::abs: return "abs";
    case Un::relu: return "relu";
    case Un::leaky: return "leaky_relu";
    case Un::sigmoid: return "sigmoid";
    case Un::tanh: return "tanh";
    case Un::clamp: return "clamp";
  }
  return "?";
}

// The op is a template argument: a runtime switch per element would keep the loops from vectorising.
template <class T, Un OP>
struct UnaryFwd {
  T p0, p1;
  HD T operator()(T x) const {
    switch (OP) {
      case Un::neg: return -x;
      case Un::exp: return ::exp(x);
      case Un::log: return ::log(x);
      case Un::sqrt: return ::sqrt(x);
      case Un::abs: return x < T(0) ? -x : x;
      case Un::relu: return x > T(0) ? x : T(0);
      case Un::leaky: return x > T(0) ? x : x * p0;
      case Un::sigmoid: return T(1) / (T(1) + ::exp(-x));
      case Un::tanh: return ::tanh(x);
      case Un::clamp: return x < p0 ? p0 : (x > p1 ? p1 : x);
    }
    return x;
  }
};

// d out / d x, from the input x and the output y.
template <class T, Un OP>
struct UnaryDeriv {
  T p0, p1;
  HD T operator()(T x, T y) const {
    switch (OP) {
      case Un::neg: return T(-1);
      case Un::exp: return y;
      case Un::log: return T(1) / x;
      case Un::sqrt: return T(0.5) / y;
      case Un::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
      case Un::relu: return x > T(0) ? T(1) : T(0);
      case Un::leaky: return x > T(0) ? T(1) : p0;
      case Un::sigmoid: return y * (T(1) - y);
      case Un::tanh: return T(1) - y * y;
      case Un::clamp: return (x >= p0 && x <= p1) ? T(1) : T(0);
    }
    return T(0);
  }
};

// Calls f(std::integral_constant<Un, op>{}), turning the runtime op into a compile-time one.
template <class F>
void with_op(Un op, F&& f) {
  switch (op) {
    case Un::neg: return f(std::integral_constant<Un, Un::neg>{});
    case Un::exp: return f(std::integral_constant<Un, Un::exp>{});
    case Un::log: return f(std::integral_constant<Un, Un::log>{});
    case Un::sqrt: return f(std::integral_constant<Un, Un::sqrt>{});
    case Un::abs: return f(std::integral_constant<Un, Un::abs>{});
    case Un::relu: return f(std::integral_constant<Un, Un::relu>{});
    case Un::leaky: return f(std::integral_constant<Un, Un::leaky>{});
    case Un::sigmoid: return f(std::integral_constant<Un, Un::sigmoid>{});
    case Un::tanh: return f(std::integral_constant<Un, Un::tanh>{});
    case Un::clamp: return f(std::integral_constant<Un, Un::clamp>{});
  }
}

Tensor unary_raw(const UnParams& u, const Tensor& a) {
  check_float(un_name(u.op), a);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  VPS_DISPATCH_FLOAT(a.dtype(), un_name(u.op), [&] {
    with_op(u.op, [&](auto op) {
      UnaryFwd<scalar_t, decltype(op)::value> f{scalar_t(u.p0), scalar_t(u.p1)};
      unary_kernel<scalar_t, scalar_t>(out, a, f);
    });
  });
  return out;
}

struct UnaryBackward : autograd::Node {
  UnParams u;
  autograd::SavedTensor x, y;
  std::string label;
  const char* name() const override { return label.c_str(); }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor xi = x.get(name()), yi = y.get(name());
    Tensor deriv = Tensor::empty(xi.shape(), xi.dtype(), xi.device());
    VPS_DISPATCH_FLOAT(xi.dtype(), name(), [&] {
      with_op(u.op, [&](auto op) {
        UnaryDeriv<scalar_t, decltype(op)::value> d{scalar_t(u.p0), scalar_t(u.p1)};
        binary_kernel<scalar_t, scalar_t>(deriv, xi, yi, d);
      });
    });
    return {mul(g[0], deriv)};
  }
  void release() override {
    x.reset();
    y.reset();
  }
};

Tensor unary(const UnParams& u, const Tensor& a) {
  Tensor out = unary_raw(u, a);
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<UnaryBackward>();
    n->u = u;
    n->x = a;
    n->y = out;
    std::string nm = un_name(u.op);
    nm[0] = char(std::toupper(nm[0]));
    n->label = nm + "Backward";
    autograd::record(n, {a}, {out});
  }
  return out;
}

}  // namespace

Tensor neg(const Tensor& a) { return unary({Un::neg}, a); }
Tensor exp(const Tensor& a) { return unary({Un::exp}, a); }
Tensor log(const Tensor& a) { return unary({Un::log}, a); }
Tensor sqrt(const Tensor& a) { return unary({Un::sqrt}, a); }
Tensor abs(const Tensor& a) { return unary({Un::abs}, a); }
Tensor relu(const Tensor& a) { return unary({Un::relu}, a); }
Tensor leaky_relu(const Tensor& a, double slope) { return unary({Un::leaky, slope}, a); }
Tensor sigmoid(const Tensor& a) { return unary({Un::sigmoid}, a); }
Tensor tanh(const Tensor& a) { return unary({Un::tanh}, a); }
Tensor clamp(const Tensor& a, double lo, double hi) {
  VPS_CHECK(lo <= hi, "clamp: lower bound ", lo, " exceeds upper bound ", hi);
  return unary({Un::clamp, lo, hi}, a);
}
Tensor clamp_min(const Tensor& a, double lo) { return unary({Un::clamp, lo, HUGE_VAL}, a); }
Tensor clamp_max(const Tensor& a, double hi) { return unary({Un::clamp, -HUGE_VAL, hi}, a); }

}  // namespace vps
