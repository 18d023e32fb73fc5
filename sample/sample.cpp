#include "sample/sample.h"

#include "ops/ops.h"
#include "tensor/check.h"

namespace vps {

Tensor unit_range_image(const Tensor& x) {
  VPS_CHECK(x.defined() && x.dim() == 4 && x.size(1) == 3, "unit_range_image: expected (N, 3, H, W), got ",
            x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"));
  auto per_channel = [&](const double* v, double f) {
    return Tensor::from_vector<double>({v[0] * f, v[1] * f, v[2] * f}, {1, 3, 1, 1}).to(x.dtype()).to(x.device());
  };
  return add(mul(x, per_channel(kImageStd, 1.0 / 255)), per_channel(kImageMean, 1.0 / 255));
}

Tensor pad_to_multiple(const Tensor& x, int64_t divisor, double value) {
  VPS_CHECK(divisor >= 1 && x.dim() >= 2, "pad_to_multiple: divisor ", divisor, ", tensor ", shape_str(x.shape()));
  int64_t H = x.size(x.dim() - 2), W = x.size(x.dim() - 1);
  int64_t ph = (divisor - H % divisor) % divisor, pw = (divisor - W % divisor) % divisor;
  return ph || pw ? pad(x, {0, pw, 0, ph}, value) : x;
}

}  // namespace vps
