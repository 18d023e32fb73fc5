// Work items over rows cut into spans: item i of a (rows x ceil(S / span)) grid is row `row` and the
// columns [k0, k1) of it. CPU kernels take long spans (vectorisable inner loops, no per-element index
// division); CUDA kernels take span 1 (one element per thread).
#pragma once
#include <cstdint>

#include "tensor/hd.h"

namespace vps {

struct RowSpan {
  int64_t row, k0, k1;
};

HD inline RowSpan row_span(int64_t i, int64_t S, int64_t span) {
  int64_t per_row = (S + span - 1) / span;
  int64_t row = i / per_row, k0 = (i - row * per_row) * span;
  return {row, k0, k0 + span < S ? k0 + span : S};
}

}  // namespace vps
