// mmdetection v1 anchors, computed in float32 on the host.
#include "layers/anchors.h"

#include <algorithm>
#include <cmath>

#include "tensor/check.h"

namespace vps {

Tensor base_anchors(double base_size, const std::vector<double>& scales, const std::vector<double>& ratios) {
  VPS_CHECK(base_size > 0 && !scales.empty() && !ratios.empty(), "base_anchors: need base_size > 0 (got ", base_size,
            "), ", scales.size(), " scales and ", ratios.size(), " ratios (both non-empty)");
  std::vector<float> v;
  float w = float(base_size), h = float(base_size);
  float xc = 0.5f * (w - 1.0f), yc = 0.5f * (h - 1.0f);
  for (double r : ratios) {
    VPS_CHECK(r > 0, "base_anchors: ratio ", r, " must be > 0");
    float hr = std::sqrt(float(r)), wr = 1.0f / hr;
    for (double s : scales) {
      float ws = w * wr * float(s), hs = h * hr * float(s);
      float c[4] = {xc - 0.5f * (ws - 1.0f), yc - 0.5f * (hs - 1.0f), xc + 0.5f * (ws - 1.0f), yc + 0.5f * (hs - 1.0f)};
      for (float x : c) v.push_back(std::nearbyint(x));  // round half to even, as torch.round
    }
  }
  return Tensor::from_vector(v, {int64_t(v.size() / 4), 4});
}

Tensor grid_anchors(const Tensor& base_in, int64_t feat_h, int64_t feat_w, int64_t stride, Device device) {
  VPS_CHECK(base_in.dim() == 2 && base_in.size(1) == 4 && base_in.dtype() == DType::f32,
            "grid_anchors: base anchors must be float32 (A,4), got ", base_in.str());
  VPS_CHECK(feat_h >= 0 && feat_w >= 0 && stride > 0, "grid_anchors: bad feature size ", feat_h, "x", feat_w,
            " or stride ", stride);
  Tensor base = base_in.cpu().contiguous();
  int64_t a = base.size(0);
  Tensor out = Tensor::empty({feat_h * feat_w * a, 4}, DType::f32);
  const float* b = base.data<float>();
  float* o = out.data<float>();
  for (int64_t y = 0; y < feat_h; ++y)
    for (int64_t x = 0; x < feat_w; ++x) {
      float sx = float(x * stride), sy = float(y * stride);
      for (int64_t k = 0; k < a; ++k) {
        float* row = o + ((y * feat_w + x) * a + k) * 4;
        row[0] = b[k * 4 + 0] + sx;
        row[1] = b[k * 4 + 1] + sy;
        row[2] = b[k * 4 + 2] + sx;
        row[3] = b[k * 4 + 3] + sy;
      }
    }
  return out.to(device);
}

Tensor anchor_valid_flags(int64_t feat_h, int64_t feat_w, int64_t valid_h, int64_t valid_w, int64_t num_base,
                          Device device) {
  VPS_CHECK(valid_h >= 0 && valid_h <= feat_h && valid_w >= 0 && valid_w <= feat_w && num_base > 0,
            "anchor_valid_flags: valid size ", valid_h, "x", valid_w, " must lie within the feature size ", feat_h, "x",
            feat_w, " (num_base ", num_base, ")");
  Tensor out = Tensor::empty({feat_h * feat_w * num_base}, DType::u8);
  uint8_t* o = out.data<uint8_t>();
  for (int64_t y = 0; y < feat_h; ++y)
    for (int64_t x = 0; x < feat_w; ++x)
      for (int64_t k = 0; k < num_base; ++k) o[(y * feat_w + x) * num_base + k] = (x < valid_w && y < valid_h) ? 1 : 0;
  return out.to(device);
}

void anchor_valid_size(int64_t pad_h, int64_t pad_w, int64_t stride, int64_t feat_h, int64_t feat_w,
                       int64_t* valid_h, int64_t* valid_w) {
  VPS_CHECK(stride > 0, "anchor_valid_size: stride must be > 0, got ", stride);
  *valid_h = std::min((pad_h + stride - 1) / stride, feat_h);
  *valid_w = std::min((pad_w + stride - 1) / stride, feat_w);
}

Tensor anchor_inside_flags(const Tensor& anchors_in, const Tensor& flags_in, int64_t img_h, int64_t img_w,
                           double allowed_border) {
  VPS_CHECK(anchors_in.dim() == 2 && anchors_in.size(1) == 4 && anchors_in.dtype() == DType::f32,
            "anchor_inside_flags: anchors must be float32 (M,4), got ", anchors_in.str());
  VPS_CHECK(flags_in.dim() == 1 && flags_in.size(0) == anchors_in.size(0) && flags_in.dtype() == DType::u8,
            "anchor_inside_flags: flags must be u8 (M,) with M = anchors rows, got ", flags_in.str(), " for anchors ",
            shape_str(anchors_in.shape()));
  Device dev = flags_in.device();
  Tensor out = flags_in.cpu().clone();
  if (allowed_border < 0) return out.to(dev);
  Tensor an = anchors_in.cpu().contiguous();
  const float* a = an.data<float>();
  uint8_t* o = out.data<uint8_t>();
  double b = allowed_border;
  for (int64_t i = 0; i < an.size(0); ++i) {
    const float* r = a + i * 4;
    bool in = r[0] >= -b && r[1] >= -b && r[2] < double(img_w) + b && r[3] < double(img_h) + b;
    o[i] = (o[i] && in) ? 1 : 0;
  }
  return out.to(dev);
}

std::vector<Tensor> multi_level_anchors(const AnchorSpec& spec, const std::vector<std::pair<int64_t, int64_t>>& sizes,
                                        Device device) {
  VPS_CHECK(sizes.size() == spec.strides.size(), "multi_level_anchors: ", sizes.size(), " feature sizes for ",
            spec.strides.size(), " strides");
  std::vector<Tensor> out;
  for (size_t l = 0; l < sizes.size(); ++l) {
    Tensor base = base_anchors(double(spec.strides[l]), spec.scales, spec.ratios);
    out.push_back(grid_anchors(base, sizes[l].first, sizes[l].second, spec.strides[l], device));
  }
  return out;
}

}  // namespace vps
