// Tensor: a strided view (shape, strides, offset in elements) of a Storage on exactly one device.
// Methods of Tensor never record autograd: views and copies here are the raw data layer that ops
// are built from. Differentiable functions live in ops/ (ops/ops.h); e.g. vps::permute(x, dims)
// records a backward node, x.permute(dims) does not.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"

namespace vps {

namespace autograd {
struct Node;
}

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

// Bytes on one device. `version` counts in-place writes, so that autograd can detect a saved
// tensor modified after it was saved.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  uint64_t version = 0;
  bool owned = true;
  Storage(size_t nbytes, Device device);
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape, strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;             // accumulated gradient of a leaf
  std::shared_ptr<autograd::Node> grad_fn;      // producer, null for leaves
  int output_nr = 0;                            // which output of grad_fn
  bool retains_grad = false;                    // non-leaf that keeps .grad
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (contiguous) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = kCPU);
  static Tensor arange(double start, double end, double step = 1, DType dtype = DType::f32, Device device = kCPU);
  // A copy of host data; `values.size()` must equal the product of `shape`.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = kCPU);
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = kCPU);

  // ---- queries ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return int64_t(shape().size()); }
  int64_t numel() const;
  int64_t offset() const { return impl_->offset; }
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
  std::string str() const;  // "Tensor[2, 3] float32 cpu"
  // Element pointer at the view's offset. T must match dtype (checked).
  template <class T> T* data() const;
  void* raw_data() const;
  template <class T> T item() const;  // single element, copied to host
  double item_double() const;          // any dtype, as double
  template <class T> std::vector<T> to_vector() const;  // contiguous host copy

  // ---- raw views (share storage; no autograd) ----
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;
  Tensor view(const Shape& shape) const;     // requires compatible strides; one -1 allowed
  Tensor reshape(const Shape& shape) const;  // view when possible, else a contiguous copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // clamps like Python
  Tensor select(int64_t dim, int64_t index) const;                               // removes `dim`
  Tensor expand(const Shape& shape) const;   // -1 keeps a size; new leading dims allowed
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;

  // ---- copies ----
  Tensor contiguous() const;  // self when already contiguous
  Tensor clone() const;       // always a new contiguous storage
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(kCPU); }
  // In-place writes (refused on tensors that require grad while grad mode is on).
  Tensor& copy_(const Tensor& src);  // broadcasting src into self, any devices
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0); }

  // ---- autograd ----
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  Tensor& set_requires_grad(bool r = true);  // leaves only
  bool is_leaf() const { return !impl_->grad_fn; }
  Tensor grad() const;                  // undefined tensor when none
  void set_grad(const Tensor& g);
  void zero_grad() { impl_->grad.reset(); }
  void retain_grad();                   // keep .grad on a non-leaf
  std::shared_ptr<autograd::Node> grad_fn() const { return impl_->grad_fn; }
  Tensor detach() const;                // shares storage, no grad
  // Reverse-mode gradient of this tensor w.r.t. the leaves; `seed` defaults to 1 for scalars.
  void backward(const Tensor& seed = Tensor(), bool retain_graph = false) const;

  // ---- internals ----
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  bool same_storage(const Tensor& o) const { return impl_->storage == o.impl_->storage; }
  void bump_version() const { impl_->storage->version++; }
  uint64_t version() const { return impl_->storage->version; }
  int64_t wrap_dim(int64_t dim, int64_t ndim_extra = 0) const;  // negative -> positive, checked

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Broadcast two shapes (NumPy rules); throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Seeded, counter-based random numbers: element i of a draw depends only on (seed, counter, i), so
// the same seed gives the same numbers on every machine and on CPU and CUDA alike.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t next_block(uint64_t n) {  // reserves n counters, returns the first
    uint64_t c = counter_;
    counter_ += n;
    return c;
  }
  uint64_t seed() const { return seed_; }
  // The whole state is (seed, counter): checkpoints save both to resume the same stream.
  uint64_t counter() const { return counter_; }
  void set_counter(uint64_t c) { counter_ = c; }

 private:
  uint64_t seed_, counter_ = 0;
};
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32, Device device = kCPU);   // U[0,1)
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32, Device device = kCPU);  // N(0,1)
Tensor randint(const Shape& shape, int64_t low, int64_t high, Generator& gen, Device device = kCPU);  // i64
// Uniform on [lo, hi) of any float dtype.
Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype = DType::f32, Device device = kCPU);

// Bytes between host and device (cudaMemcpy; plain memcpy between host buffers).
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);

}  // namespace vps
