#include "tensor/copy.h"

#include "tensor/hd.h"

namespace vps {

StridedIndexer make_indexer(const Tensor& t, const Shape& shape) {
  VPS_CHECK(int64_t(shape.size()) <= kMaxDims, "tensors of more than ", kMaxDims, " dims are not supported: ",
            shape_str(shape));
  StridedIndexer ix;
  ix.ndim = int(shape.size());
  ix.base = t.offset();
  int64_t lead = int64_t(shape.size()) - t.dim();
  VPS_CHECK(lead >= 0, "cannot broadcast ", shape_str(t.shape()), " to ", shape_str(shape));
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    ix.size[d] = shape[d] > 0 ? shape[d] : 1;
    if (d < lead) {
      ix.stride[d] = 0;
    } else {
      int64_t s = t.shape()[d - lead];
      VPS_CHECK(s == shape[d] || s == 1, "cannot broadcast ", shape_str(t.shape()), " to ", shape_str(shape));
      ix.stride[d] = s == 1 ? 0 : t.strides()[d - lead];
    }
  }
  return ix;
}

StridedIndexer make_indexer(const Tensor& t) { return make_indexer(t, t.shape()); }

// CPU only: op(dst element, src element) over dst, one row of its last dimension per item, the two
// offsets computed once per row (the per-element indexer divides by every dimension), the row a plain
// loop where both sides are contiguous in it. Copies and add_into share it.
template <class D, class S, class Op>
static void cpu_rows(const Tensor& dst, D* out, const S* in, const StridedIndexer& od, const StridedIndexer& is,
                     const Op& op) {
  const int64_t L = dst.shape().back(), ds = od.stride[od.ndim - 1], ss = is.stride[is.ndim - 1];
  detail::cpu_parallel_for(dst.numel() / L, [&](int64_t r) {
    D* o = out + od(r * L);
    const S* x = in + is(r * L);
    if (ds == 1 && ss == 1)
      for (int64_t j = 0; j < L; ++j) op(o[j], x[j]);
    else
      for (int64_t j = 0; j < L; ++j) op(o[j * ds], x[j * ss]);
  }, L);
}

template <class D, class S>
static void copy_typed(const Tensor& dst, const Tensor& src) {
  D* out = static_cast<D*>(dst.impl()->storage->data);
  const S* in = static_cast<const S*>(src.impl()->storage->data);
  StridedIndexer od = make_indexer(dst), is = make_indexer(src, dst.shape());
  if (dst.is_contiguous() && src.is_contiguous() && src.shape() == dst.shape()) {
    D* o = out + dst.offset();
    const S* s = in + src.offset();
    parallel_for(dst.device(), dst.numel(), VPS_KERNEL((int64_t i) { o[i] = D(s[i]); }));
    return;
  }
  if (!dst.device().is_cuda() && dst.dim() >= 2)
    return cpu_rows(dst, out, in, od, is, [](D& o, S x) { o = D(x); });
  parallel_for(dst.device(), dst.numel(), VPS_KERNEL((int64_t i) { out[od(i)] = D(in[is(i)]); }));
}

template <class D>
static void copy_from(const Tensor& dst, const Tensor& src) {
  switch (src.dtype()) {
    case DType::f32: return copy_typed<D, float>(dst, src);
    case DType::f64: return copy_typed<D, double>(dst, src);
    case DType::i32: return copy_typed<D, int32_t>(dst, src);
    case DType::i64: return copy_typed<D, int64_t>(dst, src);
    case DType::u8: return copy_typed<D, uint8_t>(dst, src);
    case DType::b8: return copy_typed<D, uint8_t>(dst, src);
    default: VPS_FAIL("copy: unsupported source dtype ", dtype_name(src.dtype()));
  }
}

void strided_copy(const Tensor& dst, const Tensor& src) {
  VPS_CHECK(dst.device() == src.device(), "strided_copy: devices differ (", dst.device().str(), " vs ",
            src.device().str(), ")");
  if (dst.numel() == 0) return;
  if (dst.dtype() == DType::b8 && src.dtype() != DType::b8 && src.dtype() != DType::u8) {
    // to bool: nonzero -> 1
    Tensor tmp = Tensor::empty(dst.shape(), DType::f64, dst.device());
    copy_from<double>(tmp, src);
    double* t = tmp.data<double>();
    uint8_t* o = static_cast<uint8_t*>(dst.impl()->storage->data);
    StridedIndexer od = make_indexer(dst);
    parallel_for(dst.device(), dst.numel(), VPS_KERNEL((int64_t i) { o[od(i)] = t[i] != 0 ? 1 : 0; }));
    return;
  }
  switch (dst.dtype()) {
    case DType::f32: return copy_from<float>(dst, src);
    case DType::f64: return copy_from<double>(dst, src);
    case DType::i32: return copy_from<int32_t>(dst, src);
    case DType::i64: return copy_from<int64_t>(dst, src);
    case DType::u8: return copy_from<uint8_t>(dst, src);
    case DType::b8: return copy_from<uint8_t>(dst, src);
    default: VPS_FAIL("copy: unsupported destination dtype ", dtype_name(dst.dtype()));
  }
}

void fill_tensor(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  VPS_DISPATCH_ALL(dst.dtype(), "fill_", [&] {
    scalar_t v = scalar_t(value);
    scalar_t* out = static_cast<scalar_t*>(dst.impl()->storage->data);
    if (dst.is_contiguous()) {  // no index arithmetic: the common case (zeros, ones, full)
      scalar_t* o = out + dst.offset();
      parallel_for(dst.device(), dst.numel(), VPS_KERNEL((int64_t i) { o[i] = v; }));
      return;
    }
    StridedIndexer od = make_indexer(dst);
    parallel_for(dst.device(), dst.numel(), VPS_KERNEL((int64_t i) { out[od(i)] = v; }));
  });
}

}  // namespace vps

namespace vps {

void add_into(const Tensor& dst, const Tensor& src) {
  VPS_CHECK(dst.device() == src.device() && dst.dtype() == src.dtype(), "add_into: ", dst.str(), " += ", src.str());
  VPS_DISPATCH_FLOAT(dst.dtype(), "add_into", [&] {
    scalar_t* out = static_cast<scalar_t*>(dst.impl()->storage->data);
    const scalar_t* in = static_cast<const scalar_t*>(src.impl()->storage->data);
    StridedIndexer od = make_indexer(dst), is = make_indexer(src, dst.shape());
    if (dst.numel() == 0) return;
    if (dst.is_contiguous() && src.is_contiguous() && src.shape() == dst.shape()) {  // gradient accumulation
      scalar_t* o = out + dst.offset();
      const scalar_t* x = in + src.offset();
      parallel_for(dst.device(), dst.numel(), VPS_KERNEL((int64_t i) { o[i] += x[i]; }));
      return;
    }
    if (!dst.device().is_cuda() && dst.dim() >= 2)
      return cpu_rows(dst, out, in, od, is, [](scalar_t& o, scalar_t x) { o += x; });
    parallel_for(dst.device(), dst.numel(), VPS_KERNEL((int64_t i) { out[od(i)] += in[is(i)]; }));
  });
}

}  // namespace vps
