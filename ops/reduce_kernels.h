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

// out[r] = fold(row r) with f(acc, x) and accumulator type Acc; finish(acc, row) produces the value.
template <class T, class Acc, class R, class F, class Fin>
void reduce_rows(const ReducePlan& p, const Tensor& out, Acc init, F f, Fin finish) {
  const T* x = p.rows.data<T>();
  R* o = out.data<R>();
  int64_t row = p.row;
  parallel_for(out.device(), p.outer, VPS_KERNEL((int64_t r) {
    Acc acc = init;
    const T* xr = x + r * row;
    for (int64_t j = 0; j < row; ++j) acc = f(acc, xr[j]);
    o[r] = finish(acc, row);
  }), row);
}

}  // namespace vps
