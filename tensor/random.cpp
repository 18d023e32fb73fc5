// Counter-based random numbers (splitmix64 of seed and counter), drawn on the host in double and
// then converted and copied: the same seed gives the same tensor on every machine and device.
#include <cmath>

#include "tensor/allocator.h"
#include "tensor/tensor.h"

namespace vps {

static inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline double uniform01(uint64_t seed, uint64_t counter) {
  uint64_t h = splitmix64(seed ^ splitmix64(counter));
  return double(h >> 11) * (1.0 / 9007199254740992.0);  // [0, 1), 53 bits
}

Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype, Device device) {
  VPS_CHECK(is_floating(dtype), "uniform: dtype must be floating, got ", dtype_name(dtype));
  int64_t n = shape_numel(shape);
  check_host_bytes(size_t(n) * sizeof(double), "uniform's float64 staging buffer");
  uint64_t c0 = gen.next_block(uint64_t(n));
  std::vector<double> v(static_cast<size_t>(n));
  const uint64_t seed = gen.seed();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * uniform01(seed, c0 + uint64_t(i));
  return Tensor::from_vector(v, shape, kCPU).to(dtype).to(device);
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return uniform(shape, 0, 1, gen, dtype, device);
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  VPS_CHECK(is_floating(dtype), "randn: dtype must be floating, got ", dtype_name(dtype));
  int64_t n = shape_numel(shape);
  check_host_bytes(size_t(n) * sizeof(double), "randn's float64 staging buffer");
  uint64_t c0 = gen.next_block(uint64_t(2 * n));
  std::vector<double> v(static_cast<size_t>(n));
  const double two_pi = 6.283185307179586476925286766559;
  const uint64_t seed = gen.seed();
  // Each element depends only on (seed, counter): the result does not depend on the thread count.
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    double u1 = 1.0 - uniform01(seed, c0 + 2 * uint64_t(i));  // (0, 1]
    double u2 = uniform01(seed, c0 + 2 * uint64_t(i) + 1);
    v[i] = std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
  }
  return Tensor::from_vector(v, shape, kCPU).to(dtype).to(device);
}

Tensor randint(const Shape& shape, int64_t low, int64_t high, Generator& gen, Device device) {
  VPS_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  int64_t n = shape_numel(shape);
  uint64_t c0 = gen.next_block(uint64_t(n));
  std::vector<int64_t> v(static_cast<size_t>(n));
  uint64_t range = uint64_t(high - low);
  for (int64_t i = 0; i < n; ++i)
    v[i] = low + int64_t(splitmix64(gen.seed() ^ splitmix64(c0 + uint64_t(i))) % range);
  return Tensor::from_vector(v, shape, device);
}

}  // namespace vps
