// Mask targets: GT masks cropped by the integer proposal boxes and resized to SxS with a bit-exact
// re-implementation of OpenCV's 8-bit INTER_LINEAR resize (what mmcv.imresize calls).
#include <algorithm>
#include <cmath>

#include "models/detection/det_targets.h"
#include "tensor/check.h"

namespace vps::models {

namespace {

constexpr int kCoefScale = 2048;  // INTER_RESIZE_COEF_SCALE (11 bits)

// Source index and fixed-point weights of one output coordinate (cv::resize's xofs/ialpha tables).
struct Tap {
  int64_t i0, i1;
  int w0, w1;
};

// reset_border: the horizontal table of cv::resize zeroes the weight where the left tap falls outside
// (sx < 0 or sx >= src-1); the vertical one only clamps the two row indices.
std::vector<Tap> linear_taps(int64_t src, int64_t dst, bool reset_border) {
  double scale = 1.0 / (double(dst) / double(src));
  std::vector<Tap> taps(static_cast<size_t>(dst));
  for (int64_t d = 0; d < dst; ++d) {
    float f = float((double(d) + 0.5) * scale - 0.5);
    int64_t s = int64_t(std::floor(f));
    f -= float(s);
    if (reset_border && s < 0) f = 0, s = 0;
    if (reset_border && s >= src - 1) f = 0, s = src - 1;
    taps[size_t(d)] = {std::clamp<int64_t>(s, 0, src - 1), std::clamp<int64_t>(s + 1, 0, src - 1),
                       int(std::nearbyint((1.f - f) * kCoefScale)), int(std::nearbyint(f * kCoefScale))};
  }
  return taps;
}

}  // namespace

Tensor resize_bilinear_u8(const Tensor& src, int64_t out_h, int64_t out_w) {
  VPS_CHECK(src.defined() && src.dim() == 2 && src.dtype() == DType::u8 && src.numel() > 0, "resize_bilinear_u8: src ",
            src.defined() ? src.str() : "undefined", " must be a non-empty u8 (h,w) tensor");
  VPS_CHECK(out_h > 0 && out_w > 0, "resize_bilinear_u8: output size ", out_h, "x", out_w, " must be positive");
  Tensor s = src.cpu().contiguous();
  int64_t h = s.size(0), w = s.size(1);
  const uint8_t* sp = s.data<uint8_t>();
  Tensor out = Tensor::empty({out_h, out_w}, DType::u8);
  uint8_t* op = out.data<uint8_t>();
  if (h == out_h && w == out_w) return s.clone();
  std::vector<Tap> xt = linear_taps(w, out_w, true), yt = linear_taps(h, out_h, false);
  std::vector<int32_t> row0(static_cast<size_t>(out_w)), row1(static_cast<size_t>(out_w));
  auto hpass = [&](int64_t r, std::vector<int32_t>& buf) {
    const uint8_t* sr = sp + r * w;
    for (int64_t x = 0; x < out_w; ++x) {
      const Tap& t = xt[size_t(x)];
      buf[size_t(x)] = int32_t(sr[t.i0]) * t.w0 + int32_t(sr[t.i1]) * t.w1;
    }
  };
  for (int64_t y = 0; y < out_h; ++y) {
    const Tap& t = yt[size_t(y)];
    hpass(t.i0, row0);
    hpass(t.i1, row1);
    for (int64_t x = 0; x < out_w; ++x) {
      int32_t v = (((t.w0 * (row0[size_t(x)] >> 4)) >> 16) + ((t.w1 * (row1[size_t(x)] >> 4)) >> 16) + 2) >> 2;
      op[y * out_w + x] = uint8_t(std::clamp(v, 0, 255));
    }
  }
  return out;
}

Tensor mask_targets(const Tensor& pos_proposals, const Tensor& pos_assigned_gt_inds, const Tensor& gt_masks,
                    int64_t mask_size) {
  const char* op = "mask_targets";
  VPS_CHECK(pos_proposals.defined() && pos_proposals.dim() == 2 && pos_proposals.size(1) >= 4 &&
                is_floating(pos_proposals.dtype()), op, ": pos_proposals must be float (P,4), got ",
            pos_proposals.defined() ? pos_proposals.str() : "undefined");
  int64_t p = pos_proposals.size(0);
  VPS_CHECK(pos_assigned_gt_inds.defined() && pos_assigned_gt_inds.dtype() == DType::i64 &&
                pos_assigned_gt_inds.shape() == Shape{p}, op, ": pos_assigned_gt_inds must be int64 (P) for ",
            pos_proposals.str());
  VPS_CHECK(gt_masks.defined() && gt_masks.dim() == 3 && gt_masks.dtype() == DType::u8, op,
            ": gt_masks must be u8 (G,H,W), got ", gt_masks.defined() ? gt_masks.str() : "undefined");
  int64_t g = gt_masks.size(0), mh = gt_masks.size(1), mw = gt_masks.size(2);
  std::vector<double> box = pos_proposals.slice(1, 0, 4).to(DType::f64).cpu().contiguous().to_vector<double>();
  std::vector<int64_t> gi = pos_assigned_gt_inds.cpu().to_vector<int64_t>();
  Tensor masks = gt_masks.cpu().contiguous();
  Tensor out = Tensor::zeros({p, mask_size, mask_size}, DType::f32);
  float* o = out.data<float>();
  for (int64_t i = 0; i < p; ++i) {
    VPS_CHECK(gi[size_t(i)] >= 0 && gi[size_t(i)] < g, op, ": gt index ", gi[size_t(i)], " outside [0, ", g, ")");
    // astype(np.int32) truncates toward zero; negative corners (not produced by clipped proposals)
    // are clamped to 0 here instead of numpy's wrap-around.
    int64_t x1 = std::max<int64_t>(int64_t(box[size_t(i * 4)]), 0), y1 = std::max<int64_t>(int64_t(box[size_t(i * 4 + 1)]), 0);
    int64_t x2 = int64_t(box[size_t(i * 4 + 2)]), y2 = int64_t(box[size_t(i * 4 + 3)]);
    int64_t w = std::max<int64_t>(x2 - x1 + 1, 1), h = std::max<int64_t>(y2 - y1 + 1, 1);
    int64_t xe = std::min(x1 + w, mw), ye = std::min(y1 + h, mh);
    if (xe <= x1 || ye <= y1) continue;  // empty crop (box outside the mask): an all-zero target
    Tensor crop = masks.select(0, gi[size_t(i)]).slice(0, y1, ye).slice(1, x1, xe);
    std::vector<uint8_t> r = resize_bilinear_u8(crop, mask_size, mask_size).to_vector<uint8_t>();
    for (int64_t j = 0; j < mask_size * mask_size; ++j) o[i * mask_size * mask_size + j] = float(r[size_t(j)]);
  }
  return out.to(pos_proposals.dtype()).to(pos_proposals.device());
}

}  // namespace vps::models
