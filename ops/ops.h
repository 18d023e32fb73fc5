// Differentiable core ops (each records a backward node when an input requires grad).
// Shapes follow NumPy broadcasting for elementwise ops. Every op checks its inputs and throws
// vps::Error naming the op and the shapes. Float ops accept f32 and f64 (the gradient checks run
// in f64); comparisons return u8 (0/1) tensors; indices are i64.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace vps {

// ---- elementwise, broadcasting (ops/elementwise*.cu) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);  // a > 0 where b is not an integer
Tensor add(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);
Tensor rsub(double s, const Tensor& a);  // s - a
Tensor mul(const Tensor& a, double s);
Tensor div(const Tensor& a, double s);
Tensor rdiv(double s, const Tensor& a);  // s / a
Tensor pow(const Tensor& a, double exponent);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor clamp(const Tensor& a, double lo, double hi);  // gradient 1 inside [lo, hi], 0 outside
Tensor clamp_min(const Tensor& a, double lo);
Tensor clamp_max(const Tensor& a, double hi);
Tensor relu(const Tensor& a);
Tensor leaky_relu(const Tensor& a, double slope = 0.01);
Tensor sigmoid(const Tensor& a);
Tensor tanh(const Tensor& a);
// where(cond, a, b): cond is u8/bool, broadcasting over all three; differentiable in a and b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// Comparisons: u8 results, no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double s);
Tensor ne(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor le(const Tensor& a, double s);
Tensor gt(const Tensor& a, double s);
Tensor ge(const Tensor& a, double s);
Tensor logical_not(const Tensor& a);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(s, a); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(double s, const Tensor& a) { return rdiv(s, a); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// ---- reductions (ops/reduce*.cu) ----
// dims empty = all dims. Negative dims count from the end.
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// max/min over one dim: values and i64 indices (first occurrence); gradient flows to the index.
struct ValuesIndices {
  Tensor values, indices;
};
ValuesIndices max(const Tensor& a, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& a);  // over all elements (gradient to the first maximum)
Tensor min(const Tensor& a);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);  // i64, no gradient
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor norm(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);  // L2
Tensor softmax(const Tensor& a, int64_t dim);      // numerically stable (max subtracted)
Tensor log_softmax(const Tensor& a, int64_t dim);
// argmax(softmax(a, dim), dim) (i64, no gradient): the first of the largest probabilities (ties where
// they round to the same float), 0 where the row's sum is NaN (all its probabilities are). On the CPU
// without keeping the probabilities: rows in SIMD lanes, exp(x - max) * (1 / sum), the sum in dim's order.
Tensor softmax_argmax(const Tensor& a, int64_t dim);
Tensor l2_normalize(const Tensor& a, int64_t dim, double eps = 1e-12);  // a / max(||a||, eps)
// Sums `g` over broadcast dimensions so it has `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---- shape ops (ops/shape*.cu); views record backward too ----
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor view(const Tensor& a, const Shape& shape);
Tensor permute(const Tensor& a, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);
Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& a, int64_t dim, int64_t index);
Tensor expand(const Tensor& a, const Shape& shape);
Tensor squeeze(const Tensor& a, int64_t dim);
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor flatten(const Tensor& a, int64_t start = 0, int64_t end = -1);
Tensor contiguous(const Tensor& a);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim);   // last piece may be smaller
std::vector<Tensor> split_sizes(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim);
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);  // index: i64 1-D
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);        // index: i64, same ndim
// out = a with src added at index along dim (out-of-place scatter_add).
Tensor scatter_add(const Tensor& a, int64_t dim, const Tensor& index, const Tensor& src);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);  // mask u8, broadcast
// pad: `pads` lists (before, after) pairs starting from the LAST dim, as torch.nn.functional.pad.
Tensor pad(const Tensor& a, const std::vector<int64_t>& pads, double value = 0);

// ---- linear algebra (ops/matmul.cpp): OpenBLAS on CPU, cuBLAS on CUDA ----
Tensor matmul(const Tensor& a, const Tensor& b);  // 1-D/2-D/batched with broadcasting of batch dims
Tensor bmm(const Tensor& a, const Tensor& b);     // (B,n,k) x (B,k,m)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());  // x W^T + b

}  // namespace vps
