// Shape ops that copy data: cat, stack, split/split_sizes/chunk, index_select, gather, scatter_add,
// masked_fill, pad. Each kernel body is written once (HD lambda) and run by parallel_for on CPU or
// CUDA. Index tensors are range-checked on the host before any launch. Backward:
//   cat -> slices of the gradient;  split -> cat of the output gradients (zeros where none flowed);
//   index_select -> scatter-add (CPU: one writer per line, in index order; CUDA: atomic_add);  gather <-> scatter_add;  masked_fill -> gradient
//   zeroed where masked;  pad -> pad with the negated pads (a crop, or a zero pad where it cropped).
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "autograd/node.h"
#include "ops/ops.h"
#include "tensor/copy.h"
#include "tensor/hd.h"

namespace vps {

namespace {

StridedIndexer indexer_of(const Shape& shape, const Shape& strides, int64_t base) {
  VPS_CHECK(int64_t(shape.size()) <= kMaxDims, "tensors of more than ", kMaxDims, " dims are not supported: ",
            shape_str(shape));
  StridedIndexer ix;
  ix.ndim = int(shape.size());
  ix.base = base;
  for (size_t d = 0; d < shape.size(); ++d) {
    ix.size[d] = std::max<int64_t>(shape[d], 1);
    ix.stride[d] = strides[d];
  }
  return ix;
}

// Indexer of t's elements over `shape` with dimension d left out (its stride returned in *sd): the
// caller adds index * sd. Used by index_select, gather and scatter_add.
StridedIndexer indexer_skipping(const Tensor& t, int64_t d, const Shape& shape, int64_t* sd) {
  Shape st = t.strides();
  *sd = st[d];
  st[d] = 0;
  return indexer_of(shape, st, t.offset());
}

int64_t wrap(const char* op, int64_t dim, int64_t ndim, const Shape& s) {
  int64_t w = dim < 0 ? dim + ndim : dim;
  VPS_CHECK(w >= 0 && w < ndim, op, ": dimension ", dim, " out of range for shape ", shape_str(s));
  return w;
}

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

// Host-side range check of an i64 index tensor against [0, size): names op and both shapes.
Tensor checked_index(const char* op, const Tensor& a, const Tensor& index, int64_t d) {
  VPS_CHECK(index.defined() && index.dtype() == DType::i64, op, ": index must be an int64 tensor, got ",
            index.defined() ? index.str() : std::string("undefined"), " for input ", a.str());
  VPS_CHECK(index.device() == a.device(), op, ": index on ", index.device().str(), " but input on ",
            a.device().str());
  int64_t size = a.size(d);
  for (int64_t v : index.to_vector<int64_t>())
    VPS_CHECK(v >= 0 && v < size, op, ": index ", v, " out of range for dimension ", d, " of size ", size,
              " (input shape ", shape_str(a.shape()), ", index shape ", shape_str(index.shape()), ")");
  return index.contiguous();
}

void check_same_float(const char* op, const Tensor& a, const Tensor& b) {
  VPS_CHECK(a.defined() && b.defined(), op, ": undefined input tensor");
  VPS_CHECK(is_floating(a.dtype()) && a.dtype() == b.dtype() && a.device() == b.device(), op,
            ": expected float tensors of one dtype on one device, got ", a.str(), " and ", b.str());
}

// ---- cat / split ----
struct CatBackward : autograd::Node {
  int64_t dim = 0;
  std::vector<int64_t> sizes;
  const char* name() const override { return "CatBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    std::vector<Tensor> out;
    int64_t off = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      out.push_back(next[i].valid() ? g[0].slice(dim, off, off + sizes[i]) : Tensor());
      off += sizes[i];
    }
    return out;
  }
};

struct SplitBackward : autograd::Node {
  int64_t dim = 0;
  const char* name() const override { return "SplitBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {cat(g, dim)}; }
};

// ---- index ops ----
// out[i] = a[..., index[j], ...] with j the position of i along dim (K = index length).
template <class T>
void index_select_kernel(const Tensor& out, const Tensor& a, int64_t d, const Tensor& idx) {
  int64_t sd = 0;
  StridedIndexer ia = indexer_skipping(a, d, out.shape(), &sd);
  int64_t inner = prod(out.shape(), size_t(d) + 1, out.shape().size()), K = idx.numel();
  const int64_t* pi = idx.data<int64_t>();
  const T* pa = static_cast<const T*>(a.impl()->storage->data);
  T* o = out.data<T>();
  if (a.is_contiguous()) {  // fast path: two divisions per element instead of a full strided index
    const T* base = pa + a.offset();
    int64_t D = a.size(d);
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) {
      int64_t r = i % inner, q = i / inner;
      o[i] = base[((q / K) * D + pi[q % K]) * inner + r];
    }));
    return;
  }
  parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = pa[ia(i) + pi[(i / inner) % K] * sd]; }));
}

// ga (contiguous, zeroed, input shape) += g scattered at index along dim (index_select backward).
template <class T>
void index_add_kernel(const Tensor& ga, int64_t d, const Tensor& idx, const Tensor& g) {
  int64_t inner = prod(ga.shape(), size_t(d) + 1, ga.shape().size()), K = idx.numel(), D = ga.size(d);
  StridedIndexer ig = make_indexer(g);
  const int64_t* pi = idx.data<int64_t>();
  const T* pg = static_cast<const T*>(g.impl()->storage->data);
  T* o = ga.data<T>();
  if (g.device().is_cuda()) {  // one item per element, atomics: reproducible to round-off only
    parallel_for(g.device(), g.numel(), VPS_KERNEL((int64_t i) {
      int64_t r = i % inner, q = i / inner;
      atomic_add(&o[((q / K) * D + pi[q % K]) * inner + r], pg[ig(i)]);
    }));
    return;
  }
  // CPU: one item per (outer, inner) line, adding its K entries in index order (one writer, fixed order)
  parallel_for(g.device(), g.numel() / (K ? K : 1), VPS_KERNEL((int64_t l) {
    int64_t r = l % inner, outer = l / inner;
    for (int64_t k = 0; k < K; ++k) o[(outer * D + pi[k]) * inner + r] += pg[ig((outer * K + k) * inner + r)];
  }), K);
}

// Backward of an op reading `a` at an i64 index along dim (index_select, gather).
struct IndexReadNode : autograd::Node {
  autograd::SavedTensor index;
  Shape in_shape;
  int64_t dim = 0;
  void release() override { index.reset(); }
};

template <class NodeT>
void record_index_read(const Tensor& a, const Tensor& idx, int64_t d, const Tensor& out) {
  if (!autograd::needs_grad({a})) return;
  auto n = std::make_shared<NodeT>();
  n->index = idx;
  n->in_shape = a.shape();
  n->dim = d;
  autograd::record(n, {a}, {out});
}

struct IndexSelectBackward : IndexReadNode {
  const char* name() const override { return "IndexSelectBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor idx = index.get(name());
    Tensor ga = Tensor::zeros(in_shape, g[0].dtype(), g[0].device());
    VPS_DISPATCH_FLOAT(ga.dtype(), "index_select backward", [&] { index_add_kernel<scalar_t>(ga, dim, idx, g[0]); });
    return {ga};
  }
};

void check_gather_shapes(const char* op, const Tensor& a, int64_t d, const Tensor& index, const Tensor* src) {
  VPS_CHECK(index.dim() == a.dim(), op, ": index must have the input's number of dims, got index shape ",
            shape_str(index.shape()), " for input shape ", shape_str(a.shape()));
  for (int64_t k = 0; k < a.dim(); ++k) {
    VPS_CHECK(k == d || index.size(k) <= a.size(k), op, ": index shape ", shape_str(index.shape()),
              " exceeds input shape ", shape_str(a.shape()), " in dimension ", k);
    VPS_CHECK(!src || index.size(k) <= src->size(k), op, ": index shape ", shape_str(index.shape()),
              " exceeds src shape ", shape_str(src->shape()), " in dimension ", k);
  }
}

struct GatherBackward : IndexReadNode {
  const char* name() const override { return "GatherBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor z = Tensor::zeros(in_shape, g[0].dtype(), g[0].device());
    return {scatter_add(z, dim, index.get(name()), g[0])};
  }
};

struct ScatterAddBackward : autograd::Node {
  autograd::SavedTensor index;
  Shape src_shape;
  int64_t dim = 0;
  const char* name() const override { return "ScatterAddBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor gs;
    if (next[1].valid()) {
      Tensor idx = index.get(name());
      gs = gather(g[0], dim, idx);
      if (gs.shape() != src_shape) {  // src larger than index: entries never read get no gradient
        Tensor z = Tensor::zeros(src_shape, gs.dtype(), gs.device()), part = z;
        for (int64_t k = 0; k < idx.dim(); ++k) part = part.slice(k, 0, idx.size(k));
        strided_copy(part, gs);
        gs = z;
      }
    }
    return {next[0].valid() ? g[0] : Tensor(), gs};
  }
  void release() override { index.reset(); }
};

// ---- masked_fill / pad ----
Tensor masked_fill_raw(const Tensor& a, const Tensor& mask, double value) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  StridedIndexer ia = make_indexer(a), im = make_indexer(mask, a.shape());
  const uint8_t* pm = static_cast<const uint8_t*>(mask.impl()->storage->data);
  VPS_DISPATCH_ALL(a.dtype(), "masked_fill", [&] {
    using T = scalar_t;
    const T* pa = static_cast<const T*>(a.impl()->storage->data);
    T* o = out.data<T>();
    T v = T(value);
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = pm[im(i)] ? v : pa[ia(i)]; }));
  });
  return out;
}

struct MaskedFillBackward : autograd::Node {
  autograd::SavedTensor mask;
  const char* name() const override { return "MaskedFillBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    return {masked_fill_raw(g[0], mask.get(name()), 0.0)};
  }
  void release() override { mask.reset(); }
};

// Per-dim geometry of a pad: output coordinate c reads input coordinate c - before (when inside).
struct PadGeometry {
  int nd = 0;
  int64_t out_size[kMaxDims] = {}, in_size[kMaxDims] = {}, in_stride[kMaxDims] = {}, before[kMaxDims] = {};
  int64_t base = 0;
};

Tensor pad_raw(const Tensor& a, const std::vector<int64_t>& pads, double value) {
  VPS_CHECK(pads.size() % 2 == 0 && int64_t(pads.size() / 2) <= a.dim(), "pad: ", pads.size(),
            " pad values given for input shape ", shape_str(a.shape()), " (need (before, after) pairs, at most ",
            2 * a.dim(), ")");
  VPS_CHECK(a.dim() <= kMaxDims, "pad: at most ", kMaxDims, " dims supported, got ", shape_str(a.shape()));
  PadGeometry p;
  p.nd = int(a.dim());
  p.base = a.offset();
  Shape out_shape = a.shape();
  for (int64_t d = 0; d < a.dim(); ++d) {
    size_t pair = size_t(a.dim() - 1 - d);  // pads start from the last dim
    int64_t before = 2 * pair < pads.size() ? pads[2 * pair] : 0;
    int64_t after = 2 * pair < pads.size() ? pads[2 * pair + 1] : 0;
    out_shape[d] = a.size(d) + before + after;
    std::ostringstream ps;
    for (size_t i = 0; i < pads.size(); ++i) ps << (i ? ", " : "") << pads[i];
    VPS_CHECK(out_shape[d] >= 0, "pad: pads (", ps.str(), ") give a negative size in dimension ", d,
              " for input shape ", shape_str(a.shape()));
    p.out_size[d] = std::max<int64_t>(out_shape[d], 1);
    p.in_size[d] = a.size(d);
    p.in_stride[d] = a.stride(d);
    p.before[d] = before;
  }
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  VPS_DISPATCH_ALL(a.dtype(), "pad", [&] {
    using T = scalar_t;
    const T* pa = static_cast<const T*>(a.impl()->storage->data);
    T* o = out.data<T>();
    T v = T(value);
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) {
      int64_t lin = i, off = p.base;
      bool inside = true;
      for (int d = p.nd - 1; d >= 0; --d) {
        int64_t c = lin % p.out_size[d], s = c - p.before[d];
        lin /= p.out_size[d];
        if (s < 0 || s >= p.in_size[d]) inside = false;
        else off += s * p.in_stride[d];
      }
      o[i] = inside ? pa[off] : v;
    }));
  });
  return out;
}

struct PadBackward : autograd::Node {
  std::vector<int64_t> neg_pads;
  const char* name() const override { return "PadBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {pad_raw(g[0], neg_pads, 0.0)}; }
};

}  // namespace

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  VPS_CHECK(!xs.empty(), "cat: empty list of tensors");
  std::string shapes;
  for (const Tensor& x : xs) {
    VPS_CHECK(x.defined(), "cat: undefined tensor in the list");
    shapes += (shapes.empty() ? "" : " ") + shape_str(x.shape());
  }
  const Tensor& x0 = xs[0];
  int64_t d = wrap("cat", dim, x0.dim(), x0.shape());
  Shape out_shape = x0.shape();
  out_shape[d] = 0;
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) {
    VPS_CHECK(x.dtype() == x0.dtype() && x.device() == x0.device(), "cat: dtype/device mismatch between ",
              x0.str(), " and ", x.str());
    bool ok = x.dim() == x0.dim();
    for (int64_t k = 0; ok && k < x.dim(); ++k) ok = k == d || x.size(k) == x0.size(k);
    VPS_CHECK(ok, "cat: shapes ", shapes, " differ outside dimension ", d);
    sizes.push_back(x.size(d));
    out_shape[d] += x.size(d);
  }
  Tensor out = Tensor::empty(out_shape, x0.dtype(), x0.device());
  int64_t off = 0;
  for (const Tensor& x : xs) {
    if (x.numel()) strided_copy(out.slice(d, off, off + x.size(d)), x);
    off += x.size(d);
  }
  if (autograd::needs_grad(xs)) {
    auto n = std::make_shared<CatBackward>();
    n->dim = d;
    n->sizes = sizes;
    autograd::record(n, xs, {out});
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  VPS_CHECK(!xs.empty(), "stack: empty list of tensors");
  for (const Tensor& x : xs)
    VPS_CHECK(x.defined() && x.shape() == xs[0].shape(), "stack: shapes differ: ", shape_str(xs[0].shape()), " and ",
              x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  int64_t d = wrap("stack", dim, xs[0].dim() + 1, xs[0].shape());
  std::vector<Tensor> us;
  for (const Tensor& x : xs) us.push_back(unsqueeze(x, d));
  return cat(us, d);
}

std::vector<Tensor> split_sizes(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim) {
  int64_t d = wrap("split", dim, a.dim(), a.shape()), total = 0;
  for (int64_t s : sizes) {
    VPS_CHECK(s >= 0, "split: negative size ", s, " for shape ", shape_str(a.shape()));
    total += s;
  }
  VPS_CHECK(total == a.size(d), "split: sizes sum to ", total, " but dimension ", d, " of shape ",
            shape_str(a.shape()), " has ", a.size(d));
  std::vector<Tensor> outs;
  int64_t off = 0;
  for (int64_t s : sizes) {
    outs.push_back(a.slice(d, off, off + s));
    off += s;
  }
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<SplitBackward>();
    n->dim = d;
    autograd::record(n, {a}, outs);
  }
  return outs;
}

std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim) {
  int64_t d = wrap("split", dim, a.dim(), a.shape()), n = a.size(d);
  VPS_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size, " for shape ", shape_str(a.shape()));
  std::vector<int64_t> sizes;
  for (int64_t off = 0; off < n; off += split_size) sizes.push_back(std::min(split_size, n - off));
  if (sizes.empty()) sizes.push_back(0);
  return split_sizes(a, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim) {
  VPS_CHECK(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  int64_t d = wrap("chunk", dim, a.dim(), a.shape());
  int64_t each = (a.size(d) + chunks - 1) / chunks;
  return split(a, std::max<int64_t>(each, 1), d);
}

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  VPS_CHECK(a.defined(), "index_select: undefined input");
  int64_t d = wrap("index_select", dim, a.dim(), a.shape());
  VPS_CHECK(index.defined() && index.dim() == 1, "index_select: index must be 1-D, got ",
            index.defined() ? shape_str(index.shape()) : std::string("undefined"), " for input shape ",
            shape_str(a.shape()));
  Tensor idx = checked_index("index_select", a, index, d);
  Shape out_shape = a.shape();
  out_shape[d] = idx.numel();
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  VPS_DISPATCH_ALL(a.dtype(), "index_select", [&] { index_select_kernel<scalar_t>(out, a, d, idx); });
  record_index_read<IndexSelectBackward>(a, idx, d, out);
  return out;
}

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) {
  VPS_CHECK(a.defined() && index.defined(), "gather: undefined input");
  int64_t d = wrap("gather", dim, a.dim(), a.shape());
  check_gather_shapes("gather", a, d, index, nullptr);
  Tensor idx = checked_index("gather", a, index, d);
  Tensor out = Tensor::empty(idx.shape(), a.dtype(), a.device());
  int64_t sd = 0;
  StridedIndexer ia = indexer_skipping(a, d, idx.shape(), &sd);
  const int64_t* pi = idx.data<int64_t>();
  VPS_DISPATCH_ALL(a.dtype(), "gather", [&] {
    using T = scalar_t;
    const T* pa = static_cast<const T*>(a.impl()->storage->data);
    T* o = out.data<T>();
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = pa[ia(i) + pi[i] * sd]; }));
  });
  record_index_read<GatherBackward>(a, idx, d, out);
  return out;
}

Tensor scatter_add(const Tensor& a, int64_t dim, const Tensor& index, const Tensor& src) {
  check_same_float("scatter_add", a, src);
  VPS_CHECK(index.defined(), "scatter_add: undefined index");
  int64_t d = wrap("scatter_add", dim, a.dim(), a.shape());
  check_gather_shapes("scatter_add", a, d, index, &src);
  Tensor idx = checked_index("scatter_add", a, index, d);
  Tensor out = a.clone();
  int64_t sd = 0;
  StridedIndexer io = indexer_skipping(out, d, idx.shape(), &sd);
  StridedIndexer is = indexer_of(idx.shape(), src.strides(), src.offset());
  const int64_t* pi = idx.data<int64_t>();
  VPS_DISPATCH_FLOAT(a.dtype(), "scatter_add", [&] {
    using T = scalar_t;
    const T* ps = static_cast<const T*>(src.impl()->storage->data);
    T* o = out.data<T>();
    if (out.device().is_cuda()) {  // atomics: reproducible to round-off only
      parallel_for(out.device(), idx.numel(), VPS_KERNEL((int64_t i) { atomic_add(&o[io(i) + pi[i] * sd], ps[is(i)]); }));
      return;
    }
    // CPU: one item per line along dim (the entries that may meet in one output), added in order
    int64_t Ld = idx.size(d), inner = prod(idx.shape(), size_t(d) + 1, idx.shape().size());
    parallel_for(out.device(), Ld ? idx.numel() / Ld : 0, VPS_KERNEL((int64_t l) {
      for (int64_t j = 0; j < Ld; ++j) {
        int64_t i = ((l / inner) * Ld + j) * inner + l % inner;
        o[io(i) + pi[i] * sd] += ps[is(i)];
      }
    }), Ld);
  });
  if (autograd::needs_grad({a, src})) {
    auto n = std::make_shared<ScatterAddBackward>();
    n->index = idx;
    n->src_shape = src.shape();
    n->dim = d;
    autograd::record(n, {a, src}, {out});
  }
  return out;
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  VPS_CHECK(a.defined() && mask.defined(), "masked_fill: undefined input");
  VPS_CHECK(mask.dtype() == DType::u8 || mask.dtype() == DType::b8, "masked_fill: mask must be uint8/bool, got ",
            mask.str());
  VPS_CHECK(mask.device() == a.device(), "masked_fill: mask on ", mask.device().str(), " but input on ",
            a.device().str());
  VPS_CHECK(broadcast_shapes(a.shape(), mask.shape(), "masked_fill") == a.shape(), "masked_fill: mask shape ",
            shape_str(mask.shape()), " does not broadcast to input shape ", shape_str(a.shape()));
  Tensor out = masked_fill_raw(a, mask, value);
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<MaskedFillBackward>();
    n->mask = mask;
    autograd::record(n, {a}, {out});
  }
  return out;
}

Tensor pad(const Tensor& a, const std::vector<int64_t>& pads, double value) {
  VPS_CHECK(a.defined(), "pad: undefined input");
  Tensor out = pad_raw(a, pads, value);
  if (autograd::needs_grad({a})) {
    auto n = std::make_shared<PadBackward>();
    for (int64_t p : pads) n->neg_pads.push_back(-p);
    autograd::record(n, {a}, {out});
  }
  return out;
}

}  // namespace vps
