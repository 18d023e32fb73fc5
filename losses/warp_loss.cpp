#include "losses/warp_loss.h"

#include "autograd/grad_mode.h"
#include "layers/flow_ops.h"
#include "layers/interpolate.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps {

namespace {

std::string shape_of(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : std::string("(undefined)"); }

}  // namespace

Tensor occlusion_map(const Tensor& image_t, const Tensor& image_r, const Tensor& flow, double alpha) {
  VPS_CHECK(image_t.defined() && image_r.defined() && flow.defined() && image_t.dim() == 4 && image_t.size(0) == 1 &&
                image_t.shape() == image_r.shape() && flow.dim() == 4 && flow.size(0) == 1 && flow.size(1) == 2 &&
                flow.size(2) == image_t.size(2) && flow.size(3) == image_t.size(3),
            "occlusion_map: images ", shape_of(image_t), ", ", shape_of(image_r), " and flow ", shape_of(flow),
            " must be (1, C, H, W) twice and (1, 2, H, W)");
  autograd::NoGradGuard ng;
  Tensor warped = resample2d(image_r, flow.to(image_r.dtype()).to(image_r.device()));
  return exp(mul(norm(sub(image_t, warped), {1}, true), -alpha));
}

Tensor downsample_flow(const Tensor& flow, int64_t h, int64_t w) {
  VPS_CHECK(flow.defined() && flow.dim() == 4 && flow.size(0) == 1 && flow.size(1) == 2 && h >= 1 && w >= 1,
            "downsample_flow: flow ", shape_of(flow), " must be (1, 2, H, W), the size ", h, "x", w, " positive");
  autograd::NoGradGuard ng;
  const double sx = double(w) / double(flow.size(3)), sy = double(h) / double(flow.size(2));
  Tensor f = interpolate(flow, {h, w}, InterpMode::nearest);
  Tensor scale = Tensor::from_vector<double>({sx, sy}, {1, 2, 1, 1}).to(flow.dtype()).to(flow.device());
  return mul(f, scale);
}

Tensor warp_loss(const Tensor& logits_t, const Tensor& logits_r, const std::vector<std::pair<int64_t, int64_t>>& channels,
                 const Tensor& flow, const Tensor& occlusion) {
  const char* op = "warp_loss";
  VPS_CHECK(logits_t.defined() && logits_r.defined() && logits_t.dim() == 4 && logits_t.size(0) == 1 &&
                logits_r.dim() == 4 && logits_r.size(0) == 1 && logits_r.size(2) == logits_t.size(2) &&
                logits_r.size(3) == logits_t.size(3),
            op, ": logits ", shape_of(logits_t), " and ", shape_of(logits_r), " must be (1, C, h, w) of one size");
  const int64_t h = logits_t.size(2), w = logits_t.size(3);
  VPS_CHECK(flow.defined() && occlusion.defined() && flow.shape() == (Shape{1, 2, h, w}) &&
                occlusion.shape() == (Shape{1, 1, h, w}),
            op, ": flow ", shape_of(flow), " and occlusion ", shape_of(occlusion), " must be (1, 2, ", h, ", ", w,
            ") and (1, 1, ", h, ", ", w, ")");
  if (channels.empty()) return mul(add(sum(logits_t), sum(logits_r)), 0.0);
  std::vector<int64_t> ct, cr;
  for (auto [a, b] : channels) {
    VPS_CHECK(a >= 0 && a < logits_t.size(1) && b >= 0 && b < logits_r.size(1), op, ": channel pair (", a, ", ", b,
              ") outside the logits' ", logits_t.size(1), " and ", logits_r.size(1), " channels");
    ct.push_back(a), cr.push_back(b);
  }
  const Device dev = logits_t.device();
  auto pick = [&](const Tensor& l, const std::vector<int64_t>& c) {
    return index_select(l, 1, Tensor::from_vector<int64_t>(c, {int64_t(c.size())}).to(dev));
  };
  Tensor f = flow.detach().to(logits_r.dtype()).to(dev), o = occlusion.detach().to(logits_t.dtype()).to(dev);
  Tensor warped = resample2d(pick(logits_r, cr), f);
  return mean(mul(o, norm(sub(pick(logits_t, ct), warped), {1}, true)));
}

}  // namespace vps
