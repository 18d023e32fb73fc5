// add, sub, mul, div, pow with broadcasting, and their scalar forms.
#include <cmath>

#include "autograd/node.h"
#include "ops/elementwise_kernels.h"
#include "ops/ops.h"

namespace vps {

void check_float(const char* op, const Tensor& a) {
  VPS_CHECK(a.defined(), op, ": undefined input tensor");
  VPS_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::f64, op, ": expected a float32/float64 tensor, got ",
            a.str());
}

void check_binary_float(const char* op, const Tensor& a, const Tensor& b) {
  check_float(op, a);
  check_float(op, b);
  VPS_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch between ", a.str(), " and ", b.str());
  VPS_CHECK(a.device() == b.device(), op, ": device mismatch between ", a.str(), " and ", b.str());
}

namespace {

enum class BinOp { add, sub, mul, div, pow };
const char* bin_name(BinOp op) {
  switch (op) {
    case BinOp::add: return "add";
    case BinOp::sub: return "sub";
    case BinOp::mul: return "mul";
    case BinOp::div: return "div";
    case BinOp::pow: return "pow";
  }
  return "?";
}

// The element ops (functors: binary_kernel's kernel captures them).
struct AddOp {
  template <class T>
  HD T operator()(T x, T y) const { return x + y; }
};
struct SubOp {
  template <class T>
  HD T operator()(T x, T y) const { return x - y; }
};
struct MulOp {
  template <class T>
  HD T operator()(T x, T y) const { return x * y; }
};
struct DivOp {
  template <class T>
  HD T operator()(T x, T y) const { return x / y; }
};
struct PowOp {
  template <class T>
  HD T operator()(T x, T y) const { return ::pow(x, y); }
};

Tensor binary_forward(BinOp op, const Tensor& a, const Tensor& b) {
  check_binary_float(bin_name(op), a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), bin_name(op));
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  VPS_DISPATCH_FLOAT(a.dtype(), bin_name(op), [&] {
    using T = scalar_t;
    switch (op) {
      case BinOp::add: binary_kernel<T, T>(out, a, b, AddOp{}); break;
      case BinOp::sub: binary_kernel<T, T>(out, a, b, SubOp{}); break;
      case BinOp::mul: binary_kernel<T, T>(out, a, b, MulOp{}); break;
      case BinOp::div: binary_kernel<T, T>(out, a, b, DivOp{}); break;
      case BinOp::pow: binary_kernel<T, T>(out, a, b, PowOp{}); break;
    }
  });
  return out;
}

struct BinaryBackward : autograd::Node {
  BinOp op;
  autograd::SavedTensor a, b, out;
  Shape sa, sb;
  const char* name() const override {
    switch (op) {
      case BinOp::add: return "AddBackward";
      case BinOp::sub: return "SubBackward";
      case BinOp::mul: return "MulBackward";
      case BinOp::div: return "DivBackward";
      case BinOp::pow: return "PowBackward";
    }
    return "BinaryBackward";
  }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    const Tensor& go = g[0];
    bool need_a = next[0].valid(), need_b = next[1].valid();
    Tensor ga, gb;
    switch (op) {
      case BinOp::add:
        if (need_a) ga = sum_to(go, sa);
        if (need_b) gb = sum_to(go, sb);
        break;
      case BinOp::sub:
        if (need_a) ga = sum_to(go, sa);
        if (need_b) gb = sum_to(neg(go), sb);
        break;
      case BinOp::mul:
        if (need_a) ga = sum_to(mul(go, b.get(name())), sa);
        if (need_b) gb = sum_to(mul(go, a.get(name())), sb);
        break;
      case BinOp::div: {
        Tensor bb = b.get(name());
        if (need_a) ga = sum_to(div(go, bb), sa);
        if (need_b) gb = sum_to(neg(mul(go, div(out.get(name()), bb))), sb);
        break;
      }
      case BinOp::pow: {
        Tensor aa = a.get(name()), bb = b.get(name()), o = out.get(name());
        if (need_a) ga = sum_to(mul(go, mul(bb, pow(aa, sub(bb, 1.0)))), sa);
        if (need_b) gb = sum_to(mul(go, mul(o, log(aa))), sb);
        break;
      }
    }
    return {ga, gb};
  }
  void release() override {
    a.reset();
    b.reset();
    out.reset();
  }
};

Tensor binary(BinOp op, const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(op, a, b);
  if (autograd::needs_grad({a, b})) {
    auto n = std::make_shared<BinaryBackward>();
    n->op = op;
    n->sa = a.shape();
    n->sb = b.shape();
    if (op == BinOp::mul || op == BinOp::pow) {
      n->a = a;
      n->b = b;
    }
    if (op == BinOp::div || op == BinOp::pow) {
      n->b = b;
      n->out = out;
    }
    autograd::record(n, {a, b}, {out});
  }
  return out;
}

Tensor scalar_like(const Tensor& a, double s) { return Tensor::scalar(s, a.dtype(), a.device()); }

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinOp::div, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(BinOp::pow, a, b); }
Tensor add(const Tensor& a, double s) { return binary(BinOp::add, a, scalar_like(a, s)); }
Tensor sub(const Tensor& a, double s) { return binary(BinOp::sub, a, scalar_like(a, s)); }
Tensor rsub(double s, const Tensor& a) { return binary(BinOp::sub, scalar_like(a, s), a); }
Tensor mul(const Tensor& a, double s) { return binary(BinOp::mul, a, scalar_like(a, s)); }
Tensor div(const Tensor& a, double s) { return binary(BinOp::div, a, scalar_like(a, s)); }
Tensor rdiv(double s, const Tensor& a) { return binary(BinOp::div, scalar_like(a, s), a); }
Tensor pow(const Tensor& a, double e) { return binary(BinOp::pow, a, scalar_like(a, e)); }

}  // namespace vps
