#include "layers/module.h"

// libstdc++ 12's <regex> trips -Wmaybe-uninitialized under -O1 with sanitizers (DEBUG=1): a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <set>

#include "autograd/grad_mode.h"
#include "tensor/check.h"

namespace vps::nn {

namespace {
void check_name(const std::string& name, const char* what) {
  VPS_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module::", what, ": bad name '",
            name, "' (must be non-empty and contain no '.')");
}
}  // namespace

void Module::register_parameter(const std::string& name, Tensor* member) {
  check_name(name, "register_parameter");
  VPS_CHECK(member && member->defined(), "Module::register_parameter: '", name, "' is undefined");
  for (auto& p : params_) VPS_CHECK(p.first != name, "Module::register_parameter: duplicate '", name, "'");
  if (!member->requires_grad()) member->set_requires_grad(true);
  params_.emplace_back(name, member);
}

void Module::register_buffer(const std::string& name, Tensor* member) {
  check_name(name, "register_buffer");
  VPS_CHECK(member && member->defined(), "Module::register_buffer: '", name, "' is undefined");
  for (auto& b : buffers_) VPS_CHECK(b.first != name, "Module::register_buffer: duplicate '", name, "'");
  buffers_.emplace_back(name, member);
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_name(name, "register_module");
  VPS_CHECK(m != nullptr, "Module::register_module: '", name, "' is null");
  for (auto& c : children_) VPS_CHECK(c.first != name, "Module::register_module: duplicate '", name, "'");
  children_.emplace_back(name, std::move(m));
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (auto& c : children_)
    if (c.first == name) return c.second;
  VPS_FAIL("Module::child: ", type_name(), " has no child '", name, "'");
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  if (params)
    for (auto& p : params_) out.emplace_back(prefix + p.first, *p.second);
  if (buffers)
    for (auto& b : buffers_) out.emplace_back(prefix + b.first, *b.second);
  for (auto& c : children_) c.second->collect(prefix + c.first + ".", params, buffers, out);
}

template <class F>
void Module::for_each_member(const std::string& prefix, F&& f) {
  for (auto& p : params_) f(prefix + p.first, p.second, true);
  for (auto& b : buffers_) f(prefix + b.first, b.second, false);
  for (auto& c : children_) c.second->for_each_member(prefix + c.first + ".", f);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& p : named_parameters()) out.push_back(p.second);
  return out;
}

std::vector<std::string> Module::load_state_dict(const std::map<std::string, Tensor>& sd, bool strict) {
  autograd::NoGradGuard ng;
  std::vector<std::string> missing;
  std::set<std::string> used;
  for_each_member("", [&](const std::string& name, Tensor* t, bool) {
    auto it = sd.find(name);
    if (it == sd.end()) {
      missing.push_back(name);
      return;
    }
    VPS_CHECK(it->second.shape() == t->shape(), "Module::load_state_dict: '", name, "' has shape ",
              shape_str(it->second.shape()), " in the state dict but ", shape_str(t->shape()), " in the module");
    t->copy_(it->second.dtype() == t->dtype() ? it->second : it->second.to(t->dtype()));
    used.insert(name);
  });
  if (strict) {
    VPS_CHECK(missing.empty(), "Module::load_state_dict: missing key '", missing.front(), "' (",
              missing.size(), " missing)");
    for (auto& kv : sd)
      VPS_CHECK(used.count(kv.first), "Module::load_state_dict: unexpected key '", kv.first, "'");
  }
  return missing;
}

void Module::train(bool on) {
  training_ = on;
  on_train(on);
  for (auto& c : children_) c.second->train(on);
}

void Module::set_matmul_precision(MatmulPrecision p) {
  on_matmul_precision(p);
  for (auto& c : children_) c.second->set_matmul_precision(p);
}

void Module::to(Device device) {
  for_each_member("", [&](const std::string&, Tensor* t, bool) {
    if (t->device() == device) return;
    bool rg = t->requires_grad();
    Tensor moved = t->detach().to(device);
    if (rg) moved.set_requires_grad(true);
    *t = moved;
  });
}

int Module::set_requires_grad(const std::string& pattern, bool requires_grad) {
  std::regex re(pattern, std::regex::ECMAScript);
  int n = 0;
  for_each_member("", [&](const std::string& name, Tensor* t, bool is_param) {
    if (!is_param || !std::regex_search(name, re)) return;
    t->set_requires_grad(requires_grad);
    ++n;
  });
  return n;
}

void Module::zero_grad() {
  for_each_member("", [&](const std::string&, Tensor* t, bool is_param) {
    if (is_param) t->zero_grad();
  });
}

}  // namespace vps::nn
