// Gradient checker (float64, CPU) and CPU-vs-CUDA parity checker, shared by every op test.
//
// gradcheck(f, inputs): L = sum_k <f(inputs)_k, R_k> for fixed random projections R_k. The analytic
// gradient of L (one backward pass, seeded with R) is compared with central differences at a
// bounded, seeded sample of entries of every input that requires grad. Before backward each .grad
// is pre-filled with a known tensor, so the check also proves that backward adds into .grad.
// Kinks: entries where the two one-sided differences disagree are skipped (and counted); an
// optional predicate skips known kinks explicitly (ReLU at 0, integer bilinear sample points).
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace vps::testing {

using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
using SingleFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  int max_entries = 48;  // sampled entries per input
  uint64_t seed = 1234;
  // Inputs to differentiate (default: every floating input).
  std::vector<bool> wrt;
  // Return true to skip entry `index` of input `input` (a known kink).
  std::function<bool(size_t input, int64_t index)> skip;
  double max_skipped_fraction = 0.5;
};

// Returns "" on success, otherwise a message naming the input, the entry and both values.
std::string gradcheck_report(const MultiFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o = {});

inline void gradcheck(const MultiFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o = {}) {
  std::string r = gradcheck_report(f, inputs, o);
  EXPECT_TRUE(r.empty()) << r;
}
inline void gradcheck(const SingleFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o = {}) {
  gradcheck(MultiFn([&](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }), inputs, o);
}

// ---- parity ----
// Skips the current test, with a message, when no CUDA device is usable.
#define VPS_REQUIRE_CUDA()                                                                        \
  do {                                                                                            \
    if (!::vps::cuda_available())                                                                 \
      GTEST_SKIP() << "no CUDA device available: CPU-vs-CUDA parity test skipped (it runs on a GPU machine)"; \
  } while (0)

struct ParityOptions {
  double atol = 1e-5, rtol = 1e-4;
  bool check_grads = true;
  uint64_t seed = 99;
};
// Runs f on `inputs` (CPU) and on CUDA copies; compares every output and, when check_grads, the
// gradient of every floating input. Call VPS_REQUIRE_CUDA() first.
std::string parity_report(const MultiFn& f, const std::vector<Tensor>& inputs, const ParityOptions& o = {});
inline void check_parity(const MultiFn& f, const std::vector<Tensor>& inputs, const ParityOptions& o = {}) {
  std::string r = parity_report(f, inputs, o);
  EXPECT_TRUE(r.empty()) << r;
}
inline void check_parity(const SingleFn& f, const std::vector<Tensor>& inputs, const ParityOptions& o = {}) {
  check_parity(MultiFn([&](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }), inputs, o);
}

// Max |a-b| / (atol + rtol |b|) over all elements (any devices, any float dtypes); <= 1 is a pass.
double allclose_ratio(const Tensor& a, const Tensor& b, double atol, double rtol);
#define EXPECT_ALLCLOSE(a, b, atol, rtol)                                                          \
  EXPECT_LE(::vps::testing::allclose_ratio((a), (b), (atol), (rtol)), 1.0)                        \
      << "tensors differ: " << (a).str() << " vs " << (b).str()

// Random f64 CPU tensor with values in [lo, hi).
Tensor rnd(const Shape& s, uint64_t seed, double lo = -1, double hi = 1, DType dt = DType::f64);

}  // namespace vps::testing
