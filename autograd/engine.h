// Backward pass: walks the graph from the roots in topological order (iteratively, no recursion),
// sums gradients arriving at each node output, runs each node once, accumulates into leaves' .grad
// (adding to what is there), and frees saved tensors unless retain_graph.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace vps::autograd {

// seeds[i] may be undefined when roots[i] has one element (seed 1).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds, bool retain_graph = false);

// Adds g into *acc (allocating it when empty). Used for .grad accumulation and gradient sums.
void accumulate_into(std::shared_ptr<TensorImpl>& acc, const Tensor& g);

}  // namespace vps::autograd
