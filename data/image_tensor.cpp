#include "data/image_tensor.h"

#include <vector>

#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::data {

Tensor normalized_image(const Image& img, const std::string& what) {
  VPS_CHECK(img.bit_depth == 8 && (img.channels == 3 || img.channels == 4 || img.channels == 1), what,
            ": expected an 8-bit gray, RGB or RGBA image, got ", img.channels, " channels of ", img.bit_depth, " bits");
  const double* mean = kImageMean;
  const double* stdv = kImageStd;
  int64_t H = img.height, W = img.width;
  std::vector<double> v(size_t(3 * H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const uint8_t* p = img.px(int(x), int(y));
      for (int c = 0; c < 3; ++c) {
        double val = img.channels == 1 ? p[0] : p[c];
        v[size_t((c * H + y) * W + x)] = (val - mean[c]) / stdv[c];
      }
    }
  return Tensor::from_vector(v, {1, 3, H, W});
}

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

}  // namespace vps::data
