// Comparisons (u8 results, no gradient), logical_not, and where(cond, a, b) with broadcasting over
// all three inputs and a gradient to a and b.
#include <cmath>
#include <type_traits>

#include "autograd/node.h"
#include "ops/elementwise_kernels.h"
#include "ops/ops.h"

namespace vps {

namespace {

enum class Cmp { eq, ne, lt, le, gt, ge };

const char* cmp_name(Cmp op) {
  switch (op) {
    case Cmp::eq: return "eq";
    case Cmp::ne: return "ne";
    case Cmp::lt: return "lt";
    case Cmp::le: return "le";
    case Cmp::gt: return "gt";
    case Cmp::ge: return "ge";
  }
  return "?";
}

template <class C>
HD inline uint8_t compare(Cmp op, C x, C y) {
  switch (op) {
    case Cmp::eq: return x == y;
    case Cmp::ne: return x != y;
    case Cmp::lt: return x < y;
    case Cmp::le: return x <= y;
    case Cmp::gt: return x > y;
    case Cmp::ge: return x >= y;
  }
  return 0;
}

// Float tensors compare in their own precision (the scalar rounded to it, as torch does); integer
// tensors compare against the scalar in double.
template <class T>
using CmpType = std::conditional_t<std::is_floating_point<T>::value, T, double>;

template <class T>
struct CmpTensor {
  Cmp op;
  HD uint8_t operator()(T x, T y) const { return compare<T>(op, x, y); }
};

template <class T>
struct CmpScalar {
  Cmp op;
  CmpType<T> s;
  HD uint8_t operator()(T x) const { return compare<CmpType<T>>(op, CmpType<T>(x), s); }
};

void check_cmp_input(const char* op, const Tensor& a) {
  VPS_CHECK(a.defined(), op, ": undefined input tensor");
  VPS_CHECK(a.dtype() != DType::f16 && a.dtype() != DType::bf16, op, ": unsupported dtype in ", a.str());
}

Tensor compare_tensors(Cmp op, const Tensor& a, const Tensor& b) {
  const char* nm = cmp_name(op);
  check_cmp_input(nm, a);
  check_cmp_input(nm, b);
  VPS_CHECK(a.dtype() == b.dtype(), nm, ": dtype mismatch between ", a.str(), " and ", b.str());
  VPS_CHECK(a.device() == b.device(), nm, ": device mismatch between ", a.str(), " and ", b.str());
  Shape shape = broadcast_shapes(a.shape(), b.shape(), nm);
  Tensor out = Tensor::empty(shape, DType::u8, a.device());
  VPS_DISPATCH_ALL(a.dtype(), nm, [&] { binary_kernel<scalar_t, uint8_t>(out, a, b, CmpTensor<scalar_t>{op}); });
  return out;
}

Tensor compare_scalar(Cmp op, const Tensor& a, double s) {
  const char* nm = cmp_name(op);
  check_cmp_input(nm, a);
  Tensor out = Tensor::empty(a.shape(), DType::u8, a.device());
  VPS_DISPATCH_ALL(a.dtype(), nm, [&] {
    unary_kernel<scalar_t, uint8_t>(out, a, CmpScalar<scalar_t>{op, CmpType<scalar_t>(s)});
  });
  return out;
}

void check_condition(const char* op, const Tensor& cond) {
  VPS_CHECK(cond.defined(), op, ": undefined condition tensor");
  VPS_CHECK(cond.dtype() == DType::u8 || cond.dtype() == DType::b8, op,
            ": condition must be uint8 or bool, got ", cond.str());
}

struct WhereOp {
  template <class T>
  HD T operator()(uint8_t c, T x, T y) const { return c ? x : y; }
};

// out = cond ? a : b, broadcast; a and b of the same float dtype.
Tensor where_raw(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  VPS_DISPATCH_FLOAT(a.dtype(), "where", [&] {
    using T = scalar_t;
    ternary_kernel<uint8_t, T, T, T>(out, cond, a, b, WhereOp{});
  });
  return out;
}

struct WhereBackward : autograd::Node {
  autograd::SavedTensor cond;
  Shape sa, sb;
  const char* name() const override { return "WhereBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor c = cond.get(name());
    Tensor zero = Tensor::scalar(0, g[0].dtype(), g[0].device());
    Tensor ga, gb;
    if (next[1].valid()) ga = sum_to(where_raw(c, g[0], zero), sa);
    if (next[2].valid()) gb = sum_to(where_raw(c, zero, g[0]), sb);
    return {Tensor(), ga, gb};
  }
  void release() override { cond.reset(); }
};

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare_tensors(Cmp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare_tensors(Cmp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare_tensors(Cmp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare_tensors(Cmp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare_tensors(Cmp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare_tensors(Cmp::ge, a, b); }
Tensor eq(const Tensor& a, double s) { return compare_scalar(Cmp::eq, a, s); }
Tensor ne(const Tensor& a, double s) { return compare_scalar(Cmp::ne, a, s); }
Tensor lt(const Tensor& a, double s) { return compare_scalar(Cmp::lt, a, s); }
Tensor le(const Tensor& a, double s) { return compare_scalar(Cmp::le, a, s); }
Tensor gt(const Tensor& a, double s) { return compare_scalar(Cmp::gt, a, s); }
Tensor ge(const Tensor& a, double s) { return compare_scalar(Cmp::ge, a, s); }

Tensor logical_not(const Tensor& a) { return compare_scalar(Cmp::eq, a, 0.0); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_condition("where", cond);
  check_binary_float("where", a, b);
  VPS_CHECK(cond.device() == a.device(), "where: device mismatch between ", cond.str(), " and ", a.str());
  Tensor out = where_raw(cond, a, b);
  if (autograd::needs_grad({a, b})) {
    auto n = std::make_shared<WhereBackward>();
    n->cond = cond;
    n->sa = a.shape();
    n->sb = b.shape();
    autograd::record(n, {cond, a, b}, {out});
  }
  return out;
}

}  // namespace vps
