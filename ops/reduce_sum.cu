// sum, mean and sum_to (the backward of broadcasting).
#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "ops/elementwise_kernels.h"
#include "ops/ops.h"
#include "ops/reduce_kernels.h"

namespace vps {

ReducePlan make_reduce_plan(const char* op, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p;
  int64_t nd = a.dim();
  p.reduced.assign(size_t(nd), dims.empty());
  for (int64_t d : dims) {
    int64_t w = d < 0 ? d + nd : d;
    VPS_CHECK(w >= 0 && w < nd, op, ": dimension ", d, " out of range for shape ", shape_str(a.shape()));
    VPS_CHECK(!p.reduced[w], op, ": dimension ", d, " repeated");
    p.reduced[w] = true;
  }
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < nd; ++d)
    if (!p.reduced[d]) {
      perm.push_back(d);
      p.outer *= a.shape()[d];
      p.out_shape.push_back(a.shape()[d]);
      p.kept_shape.push_back(a.shape()[d]);
    } else {
      p.kept_shape.push_back(1);
      if (keepdim) p.out_shape.push_back(1);
    }
  for (int64_t d = 0; d < nd; ++d)
    if (p.reduced[d]) {
      perm.push_back(d);
      p.row *= a.shape()[d];
    }
  if (keepdim) p.out_shape = p.kept_shape;
  p.rows = a.permute(perm).contiguous();
  return p;
}

namespace {

// Finishes of the sum/mean rows (functors: passed on to reduce_rows' kernel).
template <class T>
struct MeanFinish {
  HD T operator()(double acc, int64_t n) const { return T(n ? acc / double(n) : NAN); }
};
template <class T>
struct SumFinish {
  HD T operator()(double acc, int64_t) const { return T(acc); }
};

Tensor sum_raw(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, bool mean) {
  check_float(mean ? "mean" : "sum", a);
  ReducePlan p = make_reduce_plan(mean ? "mean" : "sum", a, dims, keepdim);
  Tensor out = Tensor::empty(p.out_shape, a.dtype(), a.device());
  VPS_DISPATCH_FLOAT(a.dtype(), "sum", [&] {
    using T = scalar_t;
    if (mean) reduce_rows<T, double, T>(p, out, 0.0, ToDouble{}, Plus{}, MeanFinish<T>{});
    else reduce_rows<T, double, T>(p, out, 0.0, ToDouble{}, Plus{}, SumFinish<T>{});
  });
  return out;
}

struct SumBackward : autograd::Node {
  Shape in_shape, kept_shape;
  double scale = 1;  // 1/n for mean
  bool is_mean = false;
  const char* name() const override { return is_mean ? "MeanBackward" : "SumBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor gk = reshape(g[0], kept_shape);
    Tensor ge = contiguous(expand(gk, in_shape));
    return {is_mean ? mul(ge, scale) : ge};
  }
};

Tensor sum_impl(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, bool is_mean) {
  Tensor out = sum_raw(a, dims, keepdim, is_mean);
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<SumBackward>();
    ReducePlan p = make_reduce_plan("sum", a.detach(), dims, keepdim);
    n->in_shape = a.shape();
    n->kept_shape = p.kept_shape;
    n->is_mean = is_mean;
    n->scale = p.row ? 1.0 / double(p.row) : 0.0;
    autograd::record(n, {a}, {out});
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) { return sum_impl(a, dims, keepdim, false); }
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) { return sum_impl(a, dims, keepdim, true); }

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  VPS_CHECK(g.dim() >= int64_t(shape.size()), "sum_to: cannot reduce ", shape_str(g.shape()), " to ", shape_str(shape));
  int64_t lead = g.dim() - int64_t(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] == 1 && g.shape()[d] != 1) {
      dims.push_back(d);
    } else {
      VPS_CHECK(shape[d - lead] == g.shape()[d], "sum_to: cannot reduce ", shape_str(g.shape()), " to ",
                shape_str(shape));
    }
  }
  if (dims.empty()) return reshape(g, shape);
  return reshape(sum(g, dims, true), shape);
}

}  // namespace vps
