// Strided element copies and fills, on either device: the kernels behind contiguous(), to(dtype),
// copy_() and fill_(). dst and src must be on the same device; src broadcasts to dst's shape.
#pragma once
#include "tensor/tensor.h"

namespace vps {

void strided_copy(const Tensor& dst, const Tensor& src);  // converts dtype as needed
void fill_tensor(const Tensor& dst, double value);
// An indexer for t's elements in row-major order of `shape` (t broadcast to shape).
struct StridedIndexer;
StridedIndexer make_indexer(const Tensor& t, const Shape& shape);
StridedIndexer make_indexer(const Tensor& t);

}  // namespace vps

namespace vps {
// dst += src (src broadcast to dst's shape); same device and dtype. Raw: no autograd, no version bump.
void add_into(const Tensor& dst, const Tensor& src);
}  // namespace vps
