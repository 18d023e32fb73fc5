// Differentiable views: reshape, view, permute, transpose, slice, select, expand, squeeze,
// unsqueeze, flatten, contiguous. Forward shares storage (Tensor's raw views); backward maps the
// gradient back to the input's shape.
#include "autograd/node.h"
#include "ops/ops.h"

namespace vps {

namespace {

// grad -> reshape to the input shape (reshape, view, flatten, squeeze, unsqueeze, contiguous).
struct ReshapeBackward : autograd::Node {
  Shape in_shape;
  const char* label = "ReshapeBackward";
  const char* name() const override { return label; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0].reshape(in_shape)}; }
};

struct PermuteBackward : autograd::Node {
  std::vector<int64_t> inverse;
  const char* name() const override { return "PermuteBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0].permute(inverse)}; }
};

struct ExpandBackward : autograd::Node {
  Shape in_shape;
  const char* name() const override { return "ExpandBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {sum_to(g[0], in_shape)}; }
};

// slice/select: the gradient is zero outside the selected part.
struct SliceBackward : autograd::Node {
  Shape in_shape;
  int64_t dim = 0, start = 0, end = 0, step = 1, index = 0;
  bool is_select = false;
  const char* name() const override { return is_select ? "SelectBackward" : "SliceBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor gi = Tensor::zeros(in_shape, g[0].dtype(), g[0].device());
    Tensor part = is_select ? gi.select(dim, index) : gi.slice(dim, start, end, step);
    part.copy_(g[0]);
    return {gi};
  }
};

Tensor record_reshape(const Tensor& a, Tensor out, const char* label) {
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<ReshapeBackward>();
    n->in_shape = a.shape();
    n->label = label;
    autograd::record(n, {a}, {out});
  }
  return out;
}

}  // namespace

Tensor reshape(const Tensor& a, const Shape& s) { return record_reshape(a, a.reshape(s), "ReshapeBackward"); }
Tensor view(const Tensor& a, const Shape& s) { return record_reshape(a, a.view(s), "ViewBackward"); }
Tensor squeeze(const Tensor& a, int64_t d) { return record_reshape(a, a.squeeze(d), "SqueezeBackward"); }
Tensor unsqueeze(const Tensor& a, int64_t d) { return record_reshape(a, a.unsqueeze(d), "UnsqueezeBackward"); }
Tensor flatten(const Tensor& a, int64_t s, int64_t e) { return record_reshape(a, a.flatten(s, e), "FlattenBackward"); }

Tensor contiguous(const Tensor& a) {
  if (a.is_contiguous()) return a;
  return record_reshape(a, a.contiguous(), "ContiguousBackward");
}

Tensor permute(const Tensor& a, const std::vector<int64_t>& dims) {
  Tensor out = a.permute(dims);
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<PermuteBackward>();
    n->inverse.assign(dims.size(), 0);
    for (size_t i = 0; i < dims.size(); ++i) n->inverse[a.wrap_dim(dims[i])] = int64_t(i);
    autograd::record(n, {a}, {out});
  }
  return out;
}

Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  std::vector<int64_t> p(size_t(a.dim()));
  for (int64_t i = 0; i < a.dim(); ++i) p[i] = i;
  std::swap(p[a.wrap_dim(d0)], p[a.wrap_dim(d1)]);
  return permute(a, p);
}

Tensor expand(const Tensor& a, const Shape& s) {
  Tensor out = a.expand(s);
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<ExpandBackward>();
    n->in_shape = a.shape();
    autograd::record(n, {a}, {out});
  }
  return out;
}

Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor out = a.slice(dim, start, end, step);
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<SliceBackward>();
    n->in_shape = a.shape();
    n->dim = a.wrap_dim(dim);
    n->start = start;
    n->end = end;
    n->step = step;
    autograd::record(n, {a}, {out});
  }
  return out;
}

Tensor select(const Tensor& a, int64_t dim, int64_t index) {
  Tensor out = a.select(dim, index);
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<SliceBackward>();
    n->in_shape = a.shape();
    n->dim = a.wrap_dim(dim);
    n->index = index;
    n->is_select = true;
    autograd::record(n, {a}, {out});
  }
  return out;
}

}  // namespace vps
