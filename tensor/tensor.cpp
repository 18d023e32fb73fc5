#include "tensor/tensor.h"

#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>

#include "tensor/allocator.h"
#include "tensor/copy.h"
#if VPS_CUDA
#include <cuda_runtime.h>
#endif

namespace vps {

// The grad-mode flag of autograd/grad_mode.h, declared here only (as tensor.h names autograd::Node
// only), so that tensor/ includes nothing from autograd/. Tensor::retain_grad and Tensor::backward,
// which need the graph, are defined in autograd/engine.cpp.
namespace autograd {
bool grad_enabled();
}

// shape_str is defined in io/raw_array.cpp (the serialization layer uses it without Tensor).

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = int64_t(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) { data = allocate_bytes(d, n); }
Storage::~Storage() {
  if (owned && data) free_bytes(device, data, nbytes);
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
#if VPS_CUDA
  cudaMemcpyKind kind = dst_dev.is_cpu() ? cudaMemcpyDeviceToHost
                        : src_dev.is_cpu() ? cudaMemcpyHostToDevice
                                           : cudaMemcpyDeviceToDevice;
  cudaError_t e = cudaMemcpy(dst, src, nbytes, kind);
  VPS_CHECK(e == cudaSuccess, "cudaMemcpy of ", nbytes, " bytes failed: ", cudaGetErrorString(e));
#else
  VPS_FAIL("copy between ", src_dev.str(), " and ", dst_dev.str(), " needs a CUDA build");
#endif
}

// ---------------------------------------------------------------- factories
Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  // Sizes come from configs and files too: the byte count is checked for overflow, and a failed
  // allocation names the tensor it was for.
  int64_t n = 1;
  const int64_t kMaxBytes = int64_t(1) << 50;
  for (int64_t d : shape) {
    VPS_CHECK(d >= 0, "empty: negative size in shape ", shape_str(shape));
    VPS_CHECK(d == 0 || n <= kMaxBytes / int64_t(dtype_size(dtype)) / d, "empty: shape ", shape_str(shape),
              " of ", dtype_name(dtype), " is larger than any memory");
    n *= d;
  }
  auto impl = std::make_shared<TensorImpl>();
  try {
    impl->storage = std::make_shared<Storage>(size_t(n) * dtype_size(dtype), device);
  } catch (const Error& e) {
    VPS_FAIL("cannot allocate a ", dtype_name(dtype), " tensor of shape ", shape_str(shape), " on ", device.str(),
             ": ", e.what());
  } catch (const std::bad_alloc&) {
    VPS_FAIL("out of memory allocating a ", dtype_name(dtype), " tensor of shape ", shape_str(shape), " on ",
             device.str());
  }
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_tensor(t, value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(double start, double end, double step, DType dtype, Device device) {
  VPS_CHECK(step != 0, "arange: step must be nonzero");
  int64_t n = std::max<int64_t>(0, int64_t(std::ceil((end - start) / step)));
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + double(i) * step;
  return from_vector<double>(v, {n}, device).to(dtype);
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  VPS_CHECK(int64_t(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
            " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>::value, device);
  copy_bytes(t.raw_data(), device, values.data(), kCPU, values.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor Tensor::from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor Tensor::from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor Tensor::from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);

// ---------------------------------------------------------------- queries
const Shape& Tensor::shape() const {
  VPS_CHECK(impl_, "use of an undefined tensor");
  return impl_->shape;
}
const Shape& Tensor::strides() const {
  VPS_CHECK(impl_, "use of an undefined tensor");
  return impl_->strides;
}
DType Tensor::dtype() const {
  VPS_CHECK(impl_, "use of an undefined tensor");
  return impl_->dtype;
}
Device Tensor::device() const {
  VPS_CHECK(impl_, "use of an undefined tensor");
  return impl_->storage->device;
}
int64_t Tensor::numel() const { return shape_numel(shape()); }

int64_t Tensor::wrap_dim(int64_t d, int64_t extra) const {
  int64_t n = dim() + extra;
  int64_t w = d < 0 ? d + n : d;
  VPS_CHECK(w >= 0 && w < std::max<int64_t>(n, 1), "dimension ", d, " out of range for tensor of shape ",
            shape_str(shape()));
  return w;
}
int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d)]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d)]; }

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expect) return false;
    expect *= impl_->shape[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!impl_) return "Tensor(undefined)";
  return "Tensor" + shape_str(shape()) + " " + dtype_name(dtype()) + " " + device().str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data) + impl_->offset * int64_t(dtype_size(dtype()));
}

template <class T>
T* Tensor::data() const {
  VPS_CHECK(impl_, "data(): undefined tensor");
  DType want = dtype_of<T>::value;
  VPS_CHECK(dtype() == want || (want == DType::u8 && dtype() == DType::b8), "data<", dtype_name(want),
            ">() on a ", dtype_name(dtype()), " tensor");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int32_t* Tensor::data<int32_t>() const;
template int64_t* Tensor::data<int64_t>() const;
template uint8_t* Tensor::data<uint8_t>() const;
template bf16* Tensor::data<bf16>() const;

template <class T>
T Tensor::item() const {
  VPS_CHECK(numel() == 1, "item(): tensor of shape ", shape_str(shape()), " has ", numel(), " elements, not 1");
  T v;
  Tensor c = to(dtype_of<T>::value);
  copy_bytes(&v, kCPU, c.raw_data(), c.device(), sizeof(T));
  return v;
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template int32_t Tensor::item<int32_t>() const;
template uint8_t Tensor::item<uint8_t>() const;
double Tensor::item_double() const { return item<double>(); }

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(dtype_of<T>::value).contiguous();
  std::vector<T> v(size_t(c.numel()));
  copy_bytes(v.data(), kCPU, c.raw_data(), c.device(), v.size() * sizeof(T));
  return v;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

// ---------------------------------------------------------------- views
Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  VPS_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape_str(shape), " and strides ",
            shape_str(strides), " differ in length");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

static Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      VPS_CHECK(infer < 0, "view: more than one -1 in ", shape_str(shape));
      infer = int64_t(i);
    } else {
      VPS_CHECK(out[i] >= 0, "view: negative size in ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    VPS_CHECK(known != 0 && numel % known == 0, "view: cannot reshape ", shape_str(from), " to ", shape_str(shape));
    out[infer] = numel / known;
  }
  VPS_CHECK(shape_numel(out) == numel, "view/reshape: shape ", shape_str(shape), " is invalid for a tensor of shape ",
            shape_str(from), " (", numel, " elements)");
  return out;
}

// Strides for viewing (shape, strides) as `target` without a copy; false when impossible.
// Source dims are grouped into chunks that are contiguous among themselves; each chunk must be
// covered exactly by consecutive target dims.
static bool view_strides(const Shape& shape, const Shape& strides, const Shape& target, Shape& out) {
  out.assign(target.size(), 0);
  if (shape.empty() || shape_numel(shape) == 0) {
    out = contiguous_strides(target);
    return true;
  }
  int64_t view_d = int64_t(target.size()) - 1;
  int64_t base = strides.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
        out[view_d] = view_numel * base;
        view_numel *= target[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        base = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Tensor Tensor::view(const Shape& shape) const {
  Shape target = infer_shape(shape, numel(), this->shape());
  Shape st;
  VPS_CHECK(view_strides(this->shape(), strides(), target, st), "view: cannot view ", str(), " with strides ",
            shape_str(strides()), " as ", shape_str(target), " without a copy (use reshape)");
  return as_strided(target, st, offset());
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape target = infer_shape(shape, numel(), this->shape());
  Shape st;
  if (view_strides(this->shape(), strides(), target, st)) return as_strided(target, st, offset());
  return contiguous().view(target);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  VPS_CHECK(int64_t(dims.size()) == dim(), "permute: ", dims.size(), " dims given for a tensor of shape ",
            shape_str(shape()));
  Shape sh(dims.size()), st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i]);
    VPS_CHECK(!seen[d], "permute: dimension ", d, " repeated");
    seen[d] = true;
    sh[i] = shape()[d];
    st[i] = strides()[d];
  }
  return as_strided(sh, st, offset());
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> p(dim());
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[wrap_dim(a)], p[wrap_dim(b)]);
  return permute(p);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d);
  VPS_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::min(std::max<int64_t>(start, 0), n);
  end = std::min(std::max<int64_t>(end, start), n);
  Shape sh = shape(), st = strides();
  sh[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  return as_strided(sh, st, offset() + start * strides()[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d);
  int64_t n = shape()[d];
  int64_t i = index < 0 ? index + n : index;
  VPS_CHECK(i >= 0 && i < n, "select: index ", index, " out of range for dim ", d, " of shape ", shape_str(shape()));
  Shape sh = shape(), st = strides();
  sh.erase(sh.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(sh, st, offset() + i * strides()[d]);
}

Tensor Tensor::expand(const Shape& target) const {
  VPS_CHECK(target.size() >= shape().size(), "expand: cannot expand ", shape_str(shape()), " to ", shape_str(target));
  size_t lead = target.size() - shape().size();
  Shape sh(target.size()), st(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      VPS_CHECK(target[i] >= 0, "expand: -1 not allowed for new leading dims in ", shape_str(target));
      sh[i] = target[i];
      st[i] = 0;
      continue;
    }
    int64_t s = shape()[i - lead];
    int64_t t = target[i] == -1 ? s : target[i];
    VPS_CHECK(s == t || s == 1, "expand: cannot expand ", shape_str(shape()), " to ", shape_str(target));
    sh[i] = t;
    st[i] = (s == t) ? strides()[i - lead] : 0;
  }
  return as_strided(sh, st, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d);
  if (shape()[d] != 1) return *this;
  Shape sh = shape(), st = strides();
  sh.erase(sh.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(sh, st, offset());
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, 1);
  Shape sh = shape(), st = strides();
  int64_t s = d < dim() ? strides()[d] * shape()[d] : 1;
  sh.insert(sh.begin() + d, 1);
  st.insert(st.begin() + d, s);
  return as_strided(sh, st, offset());
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = wrap_dim(start);
  end = wrap_dim(end);
  Shape sh(shape().begin(), shape().begin() + start);
  int64_t m = 1;
  for (int64_t i = start; i <= end; ++i) m *= shape()[i];
  sh.push_back(m);
  sh.insert(sh.end(), shape().begin() + end + 1, shape().end());
  return reshape(sh);
}

// ---------------------------------------------------------------- copies
Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  strided_copy(t, *this);
  return t;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor src = contiguous();
  Tensor t = empty(shape(), dtype(), d);
  copy_bytes(t.raw_data(), d, src.raw_data(), src.device(), nbytes());
  return t;
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype()) return *this;
  Tensor t = empty(shape(), dt, device());
  strided_copy(t, *this);
  return t;
}

static void check_inplace(const Tensor& t, const char* op) {
  VPS_CHECK(!(t.requires_grad() && autograd::grad_enabled()), op, ": in-place write to ", t.str(),
            " which requires grad (wrap it in a NoGradGuard, or use an out-of-place op)");
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  Tensor s = src.device() == device() ? src : src.to(device());
  strided_copy(*this, s);
  bump_version();
  return *this;
}

Tensor& Tensor::fill_(double v) {
  check_inplace(*this, "fill_");
  fill_tensor(*this, v);
  bump_version();
  return *this;
}

// ---------------------------------------------------------------- autograd accessors
Tensor& Tensor::set_requires_grad(bool r) {
  VPS_CHECK(is_leaf() || !r, "set_requires_grad: only leaves can be marked (", str(), " has a grad_fn)");
  VPS_CHECK(!r || is_floating(dtype()), "set_requires_grad: ", dtype_name(dtype()), " tensors cannot require grad");
  impl_->requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
void Tensor::set_grad(const Tensor& g) { impl_->grad = g.defined() ? g.impl() : nullptr; }

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    VPS_CHECK(x == y || x == 1 || y == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
              " cannot be broadcast together");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

}  // namespace vps
