#include "data/image_tensor.h"

#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/check.h"
#include "tensor/io/tensor_io.h"

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

Tensor load_model_input(const std::string& path, DType dtype, int64_t size_divisor) {
  VPS_CHECK(size_divisor >= 1, "load_model_input: size_divisor must be >= 1");
  autograd::NoGradGuard ng;
  Tensor x;
  std::string ext = path.size() >= 4 ? path.substr(path.size() - 4) : "";
  if (ext == ".npy") {
    x = load_npy(path).to(DType::f64);
    if (x.dim() == 3) x = x.reshape({1, x.size(0), x.size(1), x.size(2)});
    VPS_CHECK(x.dim() == 4, "load_model_input: ", path, ": expected (C, H, W) or (N, C, H, W), got ",
              shape_str(x.shape()));
  } else {
    x = normalized_image(read_image(path), "load_model_input: " + path);
  }
  return pad_to_multiple(x, size_divisor).to(dtype).contiguous();
}

}  // namespace vps::data
