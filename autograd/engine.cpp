#include "autograd/engine.h"

#include <unordered_map>

#include "autograd/node.h"
#include "tensor/copy.h"

namespace vps::autograd {

static thread_local bool g_grad_enabled = true;
bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

Tensor SavedTensor::get(const char* node_name) const {
  if (t_.defined()) {
    VPS_CHECK(t_.version() == version_, node_name, ": a tensor saved for backward (", t_.str(),
              ") was modified in place after it was saved");
  }
  return t_;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
  node->next.clear();
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      if (t.grad_fn()) {
        e.fn = t.grad_fn();
        e.output_nr = t.impl()->output_nr;
      } else {
        e.leaf = t.impl();
      }
      e.shape = t.shape();
    }
    node->next.push_back(std::move(e));
  }
  node->outputs.clear();
  node->retained.assign(outputs.size(), {});
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& o = outputs[k];
    node->outputs.push_back({o.shape(), o.dtype(), o.device()});
    o.impl()->grad_fn = node;
    o.impl()->output_nr = int(k);
    o.impl()->requires_grad = true;
  }
}

// True when nothing but `g` can see its memory: the gradient may then become the accumulator itself
// instead of being copied (a backward pass produces most gradients as fresh, unshared tensors).
static bool sole_owner(const Tensor& g) {
  const auto& impl = g.impl();
  return impl.use_count() == 1 && impl->storage && impl->storage.use_count() == 1 && impl->offset == 0 &&
         !impl->requires_grad && !impl->grad_fn && g.is_contiguous();
}

void accumulate_into(std::shared_ptr<TensorImpl>& acc, const Tensor& g) {
  if (!acc) {
    acc = sole_owner(g) ? g.impl() : g.clone().impl();
    return;
  }
  Tensor a(acc);
  VPS_CHECK(a.shape() == g.shape(), "gradient accumulation: shape ", shape_str(g.shape()),
            " does not match existing gradient ", shape_str(a.shape()));
  add_into(a, g);
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds, bool retain_graph) {
  VPS_CHECK(roots.size() == seeds.size(), "backward: ", roots.size(), " roots but ", seeds.size(), " seeds");
  NoGradGuard no_grad;
  std::unordered_map<Node*, int> deps;
  std::unordered_map<Node*, std::vector<std::shared_ptr<TensorImpl>>> buffers;
  std::vector<std::shared_ptr<Node>> stack, ready;

  auto seed_of = [&](size_t i) {
    const Tensor& r = roots[i];
    VPS_CHECK(r.defined() && r.requires_grad(), "backward: root ", i,
              " does not require grad (no input of its computation requires grad, or it ran under NoGradGuard)");
    if (seeds[i].defined()) {
      VPS_CHECK(seeds[i].shape() == r.shape(), "backward: seed of shape ", shape_str(seeds[i].shape()),
                " for a root of shape ", shape_str(r.shape()));
      return seeds[i].to(r.dtype()).to(r.device());
    }
    VPS_CHECK(r.numel() == 1, "backward: a seed gradient is required for a non-scalar root of shape ",
              shape_str(r.shape()));
    return Tensor::ones(r.shape(), r.dtype(), r.device());
  };

  // Count, for every node reachable from the roots, how many edges lead into it.
  std::vector<Node*> seen_order;
  for (const Tensor& r : roots)
    if (r.defined() && r.grad_fn() && !deps.count(r.grad_fn().get())) {
      deps[r.grad_fn().get()] = 0;
      stack.push_back(r.grad_fn());
    }
  while (!stack.empty()) {
    std::shared_ptr<Node> n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (!e.fn) continue;
      auto it = deps.find(e.fn.get());
      if (it == deps.end()) {
        deps[e.fn.get()] = 1;
        stack.push_back(e.fn);
      } else {
        it->second++;
      }
    }
  }

  std::unordered_map<Node*, std::shared_ptr<Node>> owner;
  for (size_t i = 0; i < roots.size(); ++i) {
    Tensor s = seed_of(i);
    const Tensor& r = roots[i];
    if (!r.grad_fn()) {
      accumulate_into(r.impl()->grad, s);
      continue;
    }
    Node* n = r.grad_fn().get();
    auto& buf = buffers[n];
    buf.resize(n->outputs.size());
    accumulate_into(buf[r.impl()->output_nr], s);
    owner[n] = r.grad_fn();
  }
  for (auto& [n, sp] : owner)
    if (deps[n] == 0) ready.push_back(sp);

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.back();
    ready.pop_back();
    VPS_CHECK(!node->released, node->name(),
              ": backward through the graph a second time, but its saved tensors were already freed "
              "(pass retain_graph=true to the first backward)");
    auto buf_it = buffers.find(node.get());
    std::vector<Tensor> grads(node->outputs.size());
    for (size_t k = 0; k < grads.size(); ++k) {
      std::shared_ptr<TensorImpl> g = buf_it != buffers.end() && k < buf_it->second.size() ? buf_it->second[k] : nullptr;
      const TensorMeta& m = node->outputs[k];
      grads[k] = g ? Tensor(g) : Tensor::zeros(m.shape, m.dtype, m.device);
      if (auto keep = node->retained[k].lock()) accumulate_into(keep->grad, grads[k]);
    }
    if (buf_it != buffers.end()) buffers.erase(buf_it);
    std::vector<Tensor> in_grads = node->backward(grads);
    VPS_CHECK(in_grads.size() == node->next.size(), node->name(), ": backward returned ", in_grads.size(),
              " gradients for ", node->next.size(), " inputs");
    if (!retain_graph) {
      node->release();
      node->released = true;
    }
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Edge& e = node->next[i];
      if (!e.valid()) continue;
      const Tensor& g = in_grads[i];
      VPS_CHECK(g.defined(), node->name(), ": no gradient returned for input ", i, " which requires grad");
      VPS_CHECK(g.shape() == e.shape, node->name(), ": gradient for input ", i, " has shape ", shape_str(g.shape()),
                " but the input has shape ", shape_str(e.shape));
      if (e.leaf) {
        accumulate_into(e.leaf->grad, g);
        continue;
      }
      auto& buf = buffers[e.fn.get()];
      buf.resize(e.fn->outputs.size());
      accumulate_into(buf[e.output_nr], g);
      if (--deps[e.fn.get()] == 0) ready.push_back(e.fn);
    }
  }
}

}  // namespace vps::autograd

namespace vps {

// Tensor's methods that reach the graph (tensor/ knows autograd::Node by name only).
void Tensor::retain_grad() {
  impl_->retains_grad = true;
  if (impl_->grad_fn) impl_->grad_fn->retained[impl_->output_nr] = impl_;
}

void Tensor::backward(const Tensor& seed, bool retain_graph) const {
  autograd::run_backward({*this}, {seed}, retain_graph);
}

}  // namespace vps
