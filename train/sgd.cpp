#include "train/sgd.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::train {

SGD::SGD(const nn::NamedTensors& params, const SGDOptions& options) : params_(params), opt_(options) {
  VPS_CHECK(opt_.lr >= 0 && opt_.momentum >= 0 && opt_.weight_decay >= 0, "SGD: lr (", opt_.lr, "), momentum (",
            opt_.momentum, ") and weight_decay (", opt_.weight_decay, ") must be non-negative");
  VPS_CHECK(!opt_.nesterov || (opt_.momentum > 0 && opt_.dampening == 0),
            "SGD: nesterov needs momentum > 0 and dampening 0");
  for (auto& p : params_) VPS_CHECK(p.second.defined() && is_floating(p.second.dtype()), "SGD: parameter '", p.first, "' is not a float tensor");
  bufs_.resize(params_.size());
}

void SGD::step() {
  autograd::NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].second;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (opt_.weight_decay != 0) g = add(g, mul(p, opt_.weight_decay));
    if (opt_.momentum != 0) {
      if (!bufs_[i].defined())
        bufs_[i] = g.clone();
      else
        bufs_[i].copy_(add(mul(bufs_[i], opt_.momentum), mul(g, 1 - opt_.dampening)));
      g = opt_.nesterov ? add(g, mul(bufs_[i], opt_.momentum)) : bufs_[i];
    }
    p.copy_(sub(p, mul(g, opt_.lr)));
  }
  ++iteration_;
}

void SGD::zero_grad() {
  for (auto& p : params_) p.second.zero_grad();
}

std::map<std::string, Tensor> SGD::state_dict() const {
  std::map<std::string, Tensor> sd;
  for (size_t i = 0; i < params_.size(); ++i)
    if (bufs_[i].defined()) sd["momentum_buffer." + params_[i].first] = bufs_[i];
  sd["iteration"] = Tensor::full({}, double(iteration_), DType::i64);
  return sd;
}

void SGD::load_state_dict(const std::map<std::string, Tensor>& sd) {
  const std::string prefix = "momentum_buffer.";
  std::vector<Tensor> bufs(params_.size());
  int64_t it = 0;
  for (auto& kv : sd) {
    if (kv.first == "iteration") {
      it = int64_t(kv.second.item_double());
      continue;
    }
    VPS_CHECK(kv.first.rfind(prefix, 0) == 0, "SGD::load_state_dict: unexpected key '", kv.first, "'");
    std::string name = kv.first.substr(prefix.size());
    size_t i = 0;
    while (i < params_.size() && params_[i].first != name) ++i;
    VPS_CHECK(i < params_.size(), "SGD::load_state_dict: no parameter named '", name, "'");
    const Tensor& p = params_[i].second;
    VPS_CHECK(kv.second.shape() == p.shape(), "SGD::load_state_dict: buffer '", name, "' has shape ",
              shape_str(kv.second.shape()), " but the parameter has ", shape_str(p.shape()));
    bufs[i] = kv.second.detach().to(p.dtype()).to(p.device()).clone();
  }
  VPS_CHECK(sd.count("iteration"), "SGD::load_state_dict: missing key 'iteration'");
  bufs_ = bufs;
  iteration_ = it;
}

static double grad_sq_norm(const Tensor& g) {
  Tensor g64 = g.to(DType::f64);
  return sum(mul(g64, g64)).item_double();
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  autograd::NoGradGuard ng;
  double total2 = 0;
  for (auto& p : params)
    if (p.grad().defined()) total2 += grad_sq_norm(p.grad());
  double total = std::sqrt(total2);
  clip_grads_to(params, max_norm, total);
  return total;
}

void clip_grads_to(const std::vector<Tensor>& params, double max_norm, double total) {
  autograd::NoGradGuard ng;
  double coef = max_norm / (total + 1e-6);
  if (coef < 1)
    for (auto& p : params) {
      Tensor g = p.grad();
      if (g.defined()) g.copy_(mul(g, coef));
    }
}

GradNorms grad_norms_by_module(const std::vector<std::pair<std::string, Tensor>>& named) {
  autograd::NoGradGuard ng;
  GradNorms r;
  for (auto& [name, p] : named) {
    if (!p.grad().defined()) continue;
    double v = grad_sq_norm(p.grad());
    r.by_module[name.substr(0, name.find('.'))] += v;
    r.total += v;
  }
  for (auto& [k, v] : r.by_module) v = std::sqrt(v);
  r.total = std::sqrt(r.total);
  return r;
}

double LrSchedule::lr_at(int64_t it) const {
  int64_t k = 0;
  for (int64_t s : steps) k += s <= it ? 1 : 0;
  double regular = base_lr * std::pow(gamma, double(k));
  if (it < warmup_iters) return regular * (warmup_ratio + (1 - warmup_ratio) * double(it) / double(warmup_iters));
  return regular;
}

}  // namespace vps::train
