// Launch helpers for elementwise kernels: output contiguous of the broadcast shape, inputs read
// through StridedIndexers (stride 0 on broadcast dims). A fast path skips index arithmetic when
// every input is contiguous and already of the output's shape.
#pragma once
#include "tensor/copy.h"
#include "tensor/hd.h"
#include "tensor/tensor.h"

namespace vps {

// out[i] = f(a[i]) with out of a's dtype unless given.
template <class T, class R, class F>
void unary_kernel(const Tensor& out, const Tensor& a, F f) {
  R* o = out.data<R>();
  const T* pa = static_cast<const T*>(a.impl()->storage->data);
  if (a.is_contiguous()) {
    const T* p = pa + a.offset();
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = f(p[i]); }));
  } else {
    StridedIndexer ia = make_indexer(a, out.shape());
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = f(pa[ia(i)]); }));
  }
}

// out[i] = f(a[i], b[i]) with broadcasting.
template <class T, class R, class F>
void binary_kernel(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  R* o = out.data<R>();
  const T* pa = static_cast<const T*>(a.impl()->storage->data);
  const T* pb = static_cast<const T*>(b.impl()->storage->data);
  if (a.is_contiguous() && b.is_contiguous() && a.shape() == out.shape() && b.shape() == out.shape()) {
    const T* x = pa + a.offset();
    const T* y = pb + b.offset();
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = f(x[i], y[i]); }));
  } else if (a.is_contiguous() && a.shape() == out.shape() && b.numel() == 1) {  // tensor op scalar
    const T* x = pa + a.offset();
    const T* y = pb + b.offset();
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = f(x[i], y[0]); }));
  } else if (b.is_contiguous() && b.shape() == out.shape() && a.numel() == 1) {  // scalar op tensor
    const T* x = pa + a.offset();
    const T* y = pb + b.offset();
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = f(x[0], y[i]); }));
  } else {
    StridedIndexer ia = make_indexer(a, out.shape()), ib = make_indexer(b, out.shape());
    parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = f(pa[ia(i)], pb[ib(i)]); }));
  }
}

// out[i] = f(a[i], b[i], c[i]) with broadcasting (used by where and fused backward bodies).
template <class T0, class T1, class T2, class R, class F>
void ternary_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  R* o = out.data<R>();
  const T0* pa = static_cast<const T0*>(a.impl()->storage->data);
  const T1* pb = static_cast<const T1*>(b.impl()->storage->data);
  const T2* pc = static_cast<const T2*>(c.impl()->storage->data);
  StridedIndexer ia = make_indexer(a, out.shape()), ib = make_indexer(b, out.shape()), ic = make_indexer(c, out.shape());
  parallel_for(out.device(), out.numel(), VPS_KERNEL((int64_t i) { o[i] = f(pa[ia(i)], pb[ib(i)], pc[ic(i)]); }));
}

// Checks that a and b share device and a float dtype; names the op and shapes otherwise.
void check_binary_float(const char* op, const Tensor& a, const Tensor& b);
void check_float(const char* op, const Tensor& a);

}  // namespace vps
