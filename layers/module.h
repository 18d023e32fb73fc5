// Module: base of every layer/model. Parameters and buffers are Tensor fields of the subclass; the
// registry keeps pointers to those fields (so a Module is non-copyable and held by shared_ptr).
// Names are hierarchical and dotted in registration order, as PyTorch's ("layer1.0.conv1.weight").
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace vps::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual std::string type_name() const { return "Module"; }

  // Parameters (with dotted names) of this module and its children, registration order.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  // Parameters then buffers of each module, depth first (PyTorch's state_dict order).
  NamedTensors state_dict() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  std::shared_ptr<Module> child(const std::string& name) const;  // throws when absent
  // The child `name` as an M; null when it is absent or of another type (for code that works on any
  // model with, say, a ResNet `backbone`).
  template <class M>
  std::shared_ptr<M> child_as(const std::string& name) const {
    for (auto& [n, c] : children_)
      if (n == name) return std::dynamic_pointer_cast<M>(c);
    return nullptr;
  }

  // Copies values from `sd` into the matching members (shapes must agree). Missing keys are an
  // error when `strict`; returns the names of members that were not present in `sd`.
  std::vector<std::string> load_state_dict(const std::map<std::string, Tensor>& sd, bool strict = true);

  void train(bool on = true);  // recursive
  // The inputs of the products of this module and its children (convolutions, deformable
  // convolutions, linear layers): float32 (the default) or bf16 for CPU inference
  // (layers/bf16_inference.h). Other layers keep float32.
  void set_matmul_precision(MatmulPrecision p);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer (recursively) to `device`, keeping requires_grad.
  void to(Device device);
  // Sets requires_grad on every parameter whose dotted name matches the ECMAScript regex `pattern`
  // (std::regex_search); returns how many matched.
  int set_requires_grad(const std::string& pattern, bool requires_grad);
  void zero_grad();  // drops .grad of every parameter

 protected:
  // `member` must be a field of this object (it is pointed to, not copied). Sets requires_grad.
  void register_parameter(const std::string& name, Tensor* member);
  void register_buffer(const std::string& name, Tensor* member);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  virtual void on_train(bool /*on*/) {}  // hook for subclasses (e.g. frozen BN)
  virtual void on_matmul_precision(MatmulPrecision /*p*/) {}  // hook for the layers with products

  bool training_ = true;

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  template <class F>
  void for_each_member(const std::string& prefix, F&& f);  // f(name, Tensor*, is_param)

  std::vector<std::pair<std::string, Tensor*>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace vps::nn
