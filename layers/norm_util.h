// Small checks and copies shared by the normalisation ops (batch_norm, group_norm).
#pragma once
#include "tensor/check.h"
#include "tensor/hd.h"
#include "tensor/tensor.h"

namespace vps {

// An optional per-channel tensor: undefined, or 1-D of `C` elements with x's dtype and device.
inline void check_channel_param(const char* op, const char* what, const Tensor& p, const Tensor& x, int64_t C,
                                int64_t channel_dim = 1) {
  if (!p.defined()) return;
  VPS_CHECK(p.dim() == 1 && p.size(0) == C, op, ": ", what, " must have shape [", C, "] for input ",
            shape_str(x.shape()), " (channel dim ", channel_dim, "), got ", shape_str(p.shape()));
  VPS_CHECK(p.dtype() == x.dtype(), op, ": ", what, " has dtype ", dtype_name(p.dtype()), " but input has ",
            dtype_name(x.dtype()));
  VPS_CHECK(p.device() == x.device(), op, ": ", what, " is on ", p.device().str(), " but input is on ",
            x.device().str());
}

// p made contiguous, or (C) filled with `value` (x's dtype/device) when p is undefined (no affine).
inline Tensor param_or(const Tensor& p, int64_t C, double value, const Tensor& x) {
  return p.defined() ? p.contiguous() : Tensor::full({C}, value, x.dtype(), x.device());
}

// dst (contiguous, C) = src (1-D, any stride), same dtype and device.
template <class T>
void strided_copy_channel(const Tensor& src, const Tensor& dst) {
  const T* ps = src.data<T>();
  T* pd = dst.data<T>();
  int64_t st = src.stride(0);
  parallel_for(dst.device(), dst.numel(), VPS_LAMBDA(int64_t c) { pd[c] = ps[c * st]; });
}

}  // namespace vps
