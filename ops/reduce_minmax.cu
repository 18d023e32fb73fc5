// max/min over one dim (values + first-occurrence i64 indices), over all elements, and argmax/argmin.
// Rows come from make_reduce_plan (reduced dim moved last, contiguous); backward scatters the
// incoming gradient to the saved index of each row.
#include <cmath>

#include "autograd/node.h"
#include "ops/elementwise_kernels.h"
#include "ops/ops.h"
#include "ops/reduce_kernels.h"

namespace vps {

namespace {

// True when v should replace best: strictly better, or NaN (NaN propagates, first NaN wins).
template <class T>
HD inline bool better(bool is_max, T v, T best) {
  if (v != v) return best == best;
  return is_max ? v > best : v < best;
}

// values[r], indices[r] = extreme of row r and its first position.
template <class T>
void minmax_rows(const ReducePlan& p, const Tensor& values, const Tensor& indices, bool is_max) {
  const T* x = p.rows.data<T>();
  T* vo = values.defined() ? values.data<T>() : nullptr;
  int64_t* io = indices.data<int64_t>();
  int64_t row = p.row;
  parallel_for(indices.device(), p.outer, VPS_KERNEL((int64_t r) {
    const T* xr = x + r * row;
    T best = xr[0];
    int64_t bi = 0;
    for (int64_t j = 1; j < row; ++j)
      if (better(is_max, xr[j], best)) {
        best = xr[j];
        bi = j;
      }
    if (vo) vo[r] = best;
    io[r] = bi;
  }), row);
}

struct MinMaxResult {
  Tensor values, indices;  // indices: position within the reduced row (i64)
  ReducePlan plan;
};

MinMaxResult minmax_raw(const char* op, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim,
                        bool is_max, bool want_values) {
  VPS_CHECK(a.defined(), op, ": undefined input tensor");
  MinMaxResult res;
  res.plan = make_reduce_plan(op, a, dims, keepdim);
  VPS_CHECK(res.plan.row > 0, op, ": cannot reduce an empty dimension of shape ", shape_str(a.shape()));
  if (want_values) res.values = Tensor::empty(res.plan.out_shape, a.dtype(), a.device());
  res.indices = Tensor::empty(res.plan.out_shape, DType::i64, a.device());
  VPS_DISPATCH_ALL(a.dtype(), op, [&] { minmax_rows<scalar_t>(res.plan, res.values, res.indices, is_max); });
  return res;
}

// Gradient of a (in_shape) from g (one value per row) placed at each row's index.
struct MinMaxBackward : autograd::Node {
  autograd::SavedTensor indices;
  Shape in_shape;
  std::vector<bool> reduced;
  int64_t row = 1;
  std::string label;
  const char* name() const override { return label.c_str(); }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor idx = indices.get(name()).contiguous();
    Tensor go = g[0].contiguous();
    // The permuted layout of the plan: kept dims in order, then reduced dims.
    std::vector<int64_t> perm;
    Shape perm_shape;
    int64_t nd = int64_t(in_shape.size());
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t d = 0; d < nd; ++d)
        if (reduced[size_t(d)] == (pass == 1)) {
          perm.push_back(d);
          perm_shape.push_back(in_shape[size_t(d)]);
        }
    Tensor rows = Tensor::zeros(perm_shape, go.dtype(), go.device());
    int64_t rl = row;
    VPS_DISPATCH_FLOAT(go.dtype(), name(), [&] {
      using T = scalar_t;
      T* o = rows.data<T>();
      const T* gp = go.data<T>();
      const int64_t* ip = idx.data<int64_t>();
      parallel_for(go.device(), go.numel(), VPS_KERNEL((int64_t r) { o[r * rl + ip[r]] = gp[r]; }));
    });
    std::vector<int64_t> inv(perm.size());
    for (size_t k = 0; k < perm.size(); ++k) inv[size_t(perm[k])] = int64_t(k);
    return {rows.permute(inv).contiguous()};
  }
  void release() override { indices.reset(); }
};

ValuesIndices minmax(const char* op, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, bool is_max) {
  MinMaxResult r = minmax_raw(op, a, dims, keepdim, is_max, true);
  if (autograd::needs_grad({a})) {
    check_float(op, a);
    auto n = std::make_shared<MinMaxBackward>();
    n->indices = r.indices;
    n->in_shape = a.shape();
    n->reduced = r.plan.reduced;
    n->row = r.plan.row;
    n->label = std::string(is_max ? "Max" : "Min") + "Backward";
    autograd::record(n, {a}, {r.values});
  }
  return {r.values, r.indices};
}

}  // namespace

ValuesIndices max(const Tensor& a, int64_t dim, bool keepdim) { return minmax("max", a, {dim}, keepdim, true); }
ValuesIndices min(const Tensor& a, int64_t dim, bool keepdim) { return minmax("min", a, {dim}, keepdim, false); }
Tensor max(const Tensor& a) { return minmax("max", a, {}, false, true).values; }
Tensor min(const Tensor& a) { return minmax("min", a, {}, false, false).values; }
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  return minmax_raw("argmax", a, {dim}, keepdim, true, false).indices;
}
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) {
  return minmax_raw("argmin", a, {dim}, keepdim, false, false).indices;
}

}  // namespace vps
