#include "tests/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"

namespace vps::testing {

Tensor rnd(const Shape& s, uint64_t seed, double lo, double hi, DType dt) {
  Generator g(seed);
  return uniform(s, lo, hi, g, dt);
}

double allclose_ratio(const Tensor& a, const Tensor& b, double atol, double rtol) {
  if (a.shape() != b.shape()) return INFINITY;
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) != std::isnan(y[i])) return INFINITY;
    if (std::isnan(x[i])) continue;
    double r = std::fabs(x[i] - y[i]) / (atol + rtol * std::fabs(y[i]));
    worst = std::max(worst, r);
  }
  return worst;
}

static double projected(const MultiFn& f, const std::vector<Tensor>& in, const std::vector<std::vector<double>>& R) {
  std::vector<Tensor> out = f(in);
  double L = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    std::vector<double> v = out[k].to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) L += v[i] * R[k][i];
  }
  return L;
}

std::string gradcheck_report(const MultiFn& f, const std::vector<Tensor>& inputs_in, const GradcheckOptions& o) {
  std::ostringstream err;
  std::vector<Tensor> in;
  std::vector<bool> wrt(inputs_in.size());
  for (size_t i = 0; i < inputs_in.size(); ++i) {
    Tensor t = inputs_in[i];
    bool fl = t.defined() && is_floating(t.dtype());
    wrt[i] = fl && (o.wrt.empty() || (i < o.wrt.size() && o.wrt[i]));
    if (fl && t.dtype() != DType::f64) return "gradcheck: input " + std::to_string(i) + " must be float64";
    if (t.defined()) t = t.clone();
    if (wrt[i]) t.set_requires_grad(true);
    in.push_back(t);
  }
  // Analytic: backward seeded with random projections, on top of pre-filled .grad.
  std::vector<Tensor> out;
  {
    autograd::EnableGradGuard eg;
    out = f(in);
  }
  std::vector<std::vector<double>> R;
  std::vector<Tensor> seeds, roots;
  Generator g(o.seed);
  for (const Tensor& y : out) {
    Tensor r = randn(y.shape(), g, DType::f64);
    R.push_back(r.to_vector<double>());
    if (y.requires_grad()) {
      roots.push_back(y);
      seeds.push_back(r.to(y.dtype()));
    }
  }
  std::vector<Tensor> prefill(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (wrt[i]) {
      prefill[i] = randn(in[i].shape(), g, DType::f64);
      in[i].set_grad(prefill[i].clone());
    }
  if (!roots.empty()) autograd::run_backward(roots, seeds);

  autograd::NoGradGuard ng;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!wrt[i]) continue;
    Tensor gi = in[i].grad();
    std::vector<double> ana(size_t(in[i].numel()), 0.0);
    if (gi.defined()) {
      if (gi.shape() != in[i].shape()) return "gradcheck: .grad of input " + std::to_string(i) + " has the wrong shape";
      std::vector<double> a = gi.to_vector<double>(), p = prefill[i].to_vector<double>();
      for (size_t j = 0; j < ana.size(); ++j) ana[j] = a[j] - p[j];
    }
    int64_t n = in[i].numel();
    std::vector<int64_t> idx;
    if (n <= o.max_entries) {
      for (int64_t j = 0; j < n; ++j) idx.push_back(j);
    } else {
      Tensor pick = randint({o.max_entries}, 0, n, g);
      idx = pick.to_vector<int64_t>();
    }
    double* x = in[i].data<double>();  // clones are contiguous
    int skipped = 0, tried = 0;
    for (int64_t j : idx) {
      if (o.skip && o.skip(i, j)) continue;
      ++tried;
      double x0 = x[j];
      x[j] = x0 + o.eps;
      double lp = projected(f, in, R);
      x[j] = x0 - o.eps;
      double lm = projected(f, in, R);
      x[j] = x0;
      double l0 = projected(f, in, R);
      double num = (lp - lm) / (2 * o.eps);
      double right = (lp - l0) / o.eps, left = (l0 - lm) / o.eps;
      if (std::fabs(right - left) > 1e-3 * (1 + std::fabs(num)) + 100 * o.atol) {  // kink: one-sided slopes differ
        ++skipped;
        continue;
      }
      if (std::fabs(num - ana[j]) > o.atol + o.rtol * std::fabs(num)) {
        err << "gradcheck: input " << i << " " << in[i].str() << " entry " << j << ": numeric " << num
            << " vs analytic " << ana[j];
        return err.str();
      }
    }
    if (tried > 0 && skipped > o.max_skipped_fraction * tried) {
      err << "gradcheck: input " << i << ": " << skipped << " of " << tried
          << " entries sit on kinks (too many to trust the check; move the inputs away from kinks)";
      return err.str();
    }
  }
  return "";
}

std::string parity_report(const MultiFn& f, const std::vector<Tensor>& inputs, const ParityOptions& o) {
  if (!cuda_available()) return "";
  auto run = [&](Device d, std::vector<Tensor>& grads) {
    std::vector<Tensor> in;
    for (const Tensor& t : inputs) {
      Tensor c = t.defined() ? t.to(d).clone() : t;
      if (o.check_grads && c.defined() && is_floating(c.dtype())) c.set_requires_grad(true);
      in.push_back(c);
    }
    autograd::EnableGradGuard eg;
    std::vector<Tensor> out = f(in);
    if (o.check_grads) {
      Generator g(o.seed);
      std::vector<Tensor> roots, seeds;
      for (const Tensor& y : out)
        if (y.requires_grad()) {
          roots.push_back(y);
          seeds.push_back(randn(y.shape(), g, y.dtype(), d));
        }
      if (!roots.empty()) autograd::run_backward(roots, seeds);
      for (const Tensor& t : in) grads.push_back(t.defined() && t.requires_grad() ? t.grad() : Tensor());
    }
    return out;
  };
  std::vector<Tensor> gc, gg;
  std::vector<Tensor> oc = run(kCPU, gc), og = run(cuda_device(0), gg);
  std::ostringstream err;
  for (size_t k = 0; k < oc.size(); ++k) {
    double r = allclose_ratio(og[k], oc[k], o.atol, o.rtol);
    if (r > 1) err << "parity: output " << k << " " << oc[k].str() << " differs (ratio " << r << "); ";
  }
  for (size_t i = 0; i < gc.size(); ++i) {
    if (!gc[i].defined() && !gg[i].defined()) continue;
    if (gc[i].defined() != gg[i].defined()) {
      err << "parity: gradient of input " << i << " defined on one device only; ";
      continue;
    }
    double r = allclose_ratio(gg[i], gc[i], o.atol, o.rtol);
    if (r > 1) err << "parity: gradient of input " << i << " differs (ratio " << r << "); ";
  }
  return err.str();
}

}  // namespace vps::testing
