// Reductions over any set of dims: the reduced dims are moved last and made contiguous, so every
// output element reduces one contiguous row of length `row`. Rows run in parallel.
#pragma once
#include <vector>

#include "tensor/hd.h"
#include "tensor/tensor.h"

namespace vps {

struct ReducePlan {
  Tensor rows;        // contiguous (outer, row) data
  int64_t outer = 1;  // number of output elements
  int64_t row = 1;    // elements reduced into each
  Shape out_shape;    // with or without kept dims
  Shape kept_shape;   // out shape with reduced dims kept as size 1
  std::vector<bool> reduced;  // per input dim
};

// dims empty = all. Throws naming `op` on out-of-range or repeated dims.
ReducePlan make_reduce_plan(const char* op, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim);

// out[r] = finish(fold of row r, row length) with acc = combine(acc, map(x)) from init; map, combine
// and finish are HD functors. On CPU each row folds in order on one thread; on CUDA a block per row
// (or per chunk of a long row) reduces it (parallel_reduce_rows, tensor/hd.h).
template <class T, class Acc, class R, class Map, class Combine, class Fin>
void reduce_rows(const ReducePlan& p, const Tensor& out, Acc init, Map map, Combine combine, Fin finish) {
  const T* x = p.rows.data<T>();
  R* o = out.data<R>();
  int64_t row = p.row;
  parallel_reduce_rows(out.device(), p.outer, row, init, VPS_KERNEL((int64_t r, int64_t j) { return map(x[r * row + j]); }),
                       combine, VPS_KERNEL((int64_t r, Acc acc) { o[r] = finish(acc, row); }));
}

// The folds of sum, mean and norm.
struct ToDouble {
  template <class T>
  HD double operator()(T v) const { return double(v); }
};
struct SquareToDouble {
  template <class T>
  HD double operator()(T v) const { return double(v) * double(v); }
};
struct Plus {  // the combine of sums (any accumulator type)
  template <class A>
  HD A operator()(A a, A b) const { return a + b; }
};

}  // namespace vps
