#include "data/train_flow.h"

#include <algorithm>

#include "layers/interpolate.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::data {

TrainingFlow transform_pair_flow(const PairFlow& f, bool flip, int out_h, int out_w) {
  const int64_t H = f.flow.size(1), W = f.flow.size(2);
  std::vector<float> fl = f.flow.contiguous().to_vector<float>();
  std::vector<uint8_t> va = f.valid.contiguous().to_vector<uint8_t>();
  if (flip) {
    const size_t plane = size_t(H * W);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < (W + 1) / 2; ++x) {  // the middle column of an odd width negates in place
        size_t a = size_t(y * W + x), b = size_t(y * W + W - 1 - x);
        std::swap(fl[a], fl[b]);
        std::swap(fl[plane + a], fl[plane + b]);
        std::swap(va[a], va[b]);
        fl[a] = -fl[a];
        if (a != b) fl[b] = -fl[b];
      }
  }
  TrainingFlow out;
  out.flow = Tensor::from_vector(fl, {1, 2, H, W});
  std::vector<float> vf(va.begin(), va.end());
  if (out_h == H && out_w == W) {
    out.valid = Tensor::from_vector(vf, {1, 1, H, W});
    return out;
  }
  // Bilinear flow (align_corners false, as the images), nearest valid with the labels' integer rule
  // (src = floor(dst * in / out) exactly, train_pairs.cpp's resize_plane).
  Tensor r = interpolate(out.flow, {out_h, out_w}, InterpMode::bilinear, false);
  Tensor ratio = Tensor::from_vector(std::vector<float>{float(double(out_w) / double(W)), float(double(out_h) / double(H))},
                                     {1, 2, 1, 1});
  out.flow = mul(r, ratio).contiguous();
  std::vector<float> vr(size_t(out_h) * size_t(out_w));
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x) {
      int64_t sy = std::min<int64_t>(H - 1, int64_t(y) * H / out_h), sx = std::min<int64_t>(W - 1, int64_t(x) * W / out_w);
      vr[size_t(y) * size_t(out_w) + size_t(x)] = vf[size_t(sy * W + sx)];
    }
  out.valid = Tensor::from_vector(vr, {1, 1, out_h, out_w});
  return out;
}

TrainingFlow load_training_flow(const std::string& dir, const std::string& target_file, const std::string& ref_file,
                                int img_h, int img_w, bool flip, int out_h, int out_w) {
  std::string path = pair_flow_file(dir, target_file, ref_file);
  PairFlow f = read_pair_flow(path);
  int64_t fh = std::max(1, int(double(img_h) * f.scale + 0.5)), fw = std::max(1, int(double(img_w) * f.scale + 0.5));
  check_pair_flow_matches(f, path, target_file, ref_file, fh, fw, f.scale);
  return transform_pair_flow(f, flip, out_h, out_w);
}

}  // namespace vps::data
