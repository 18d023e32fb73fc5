// Define-by-run tape. An op that sees an input requiring grad (with grad mode on) creates a Node
// subclass holding what backward needs, and links it to its inputs and outputs with record().
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/tensor.h"

namespace vps::autograd {

struct Node;

// Where the gradient of one input goes: the input's producer (fn, output_nr) or, for a leaf, the
// leaf itself. Neither set: the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> fn;
  std::shared_ptr<TensorImpl> leaf;
  int output_nr = 0;
  Shape shape;  // expected gradient shape, checked when backward returns
  bool valid() const { return fn || leaf; }
};

struct TensorMeta {
  Shape shape;
  DType dtype;
  Device device;
};

// A tensor kept for backward together with the storage version at save time, so that an in-place
// write between forward and backward is caught instead of silently giving wrong gradients.
class SavedTensor {
 public:
  SavedTensor() = default;
  // Keeps a detached alias: same storage (so the version check holds) but no grad_fn, so saving a
  // node's own output does not make a node -> tensor -> node cycle that would leak a graph on which
  // backward never runs.
  SavedTensor(const Tensor& t) : t_(t.defined() ? t.detach() : t), version_(t.defined() ? t.version() : 0) {}  // NOLINT
  Tensor get(const char* node_name) const;
  void reset() { t_ = Tensor(); }

 private:
  Tensor t_;
  uint64_t version_ = 0;
};

struct Node {
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // grads[k]: gradient w.r.t. output k (zeros when none flowed). Returns one gradient per input, in
  // input order; an undefined tensor means "no gradient" (allowed only for inputs needing none).
  virtual std::vector<Tensor> backward(const std::vector<Tensor>& grads) = 0;
  // Drops saved tensors after backward ran (unless retain_graph).
  virtual void release() {}

  std::vector<Edge> next;                 // one per input
  std::vector<TensorMeta> outputs;        // shape/dtype/device of each output
  std::vector<std::weak_ptr<TensorImpl>> retained;  // outputs that asked for .grad (retain_grad)
  bool released = false;
};

// True when grad mode is on and any defined input requires grad.
bool needs_grad(const std::vector<Tensor>& inputs);
// Links `node` to `inputs` (edges) and makes it the grad_fn of `outputs` (which become non-leaves
// requiring grad).
void record(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs);

}  // namespace vps::autograd
