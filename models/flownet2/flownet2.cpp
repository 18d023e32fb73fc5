#include "models/flownet2/flownet2.h"

#include "autograd/grad_mode.h"
#include "layers/flow_ops.h"
#include "layers/interpolate.h"
#include "models/config_reader.h"
#include "models/registry.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

namespace {
constexpr double kDivFlow = 20, kRgbMax = 255;
const std::vector<double> kMean = {123.675, 116.28, 103.53}, kStd = {58.395, 57.12, 57.375};  // RGB

Tensor up4(const Tensor& flow, InterpMode mode) { return interpolate_scale(flow, {4.0, 4.0}, mode, false); }

// (1, 3, 1, 1) per-channel constants of x's dtype and device.
Tensor channel_constants(const std::vector<double>& v, const Tensor& like) {
  return Tensor::from_vector(v, {1, 3, 1, 1}).to(like.dtype()).to(like.device());
}
}  // namespace

FlowNet2::FlowNet2(const FlowNetOptions& o) : opt_(o) {
  auto sub = [&](uint64_t k) {  // a distinct init stream per sub-network
    FlowNetOptions s = o;
    s.seed = o.seed * 8 + k;
    return s;
  };
  flownetc = register_module("flownetc", std::make_shared<FlowNetC>(sub(0)));
  flownets_1 = register_module("flownets_1", std::make_shared<FlowNetS>(sub(1)));
  flownets_2 = register_module("flownets_2", std::make_shared<FlowNetS>(sub(2)));
  flownets_d = register_module("flownets_d", std::make_shared<FlowNetSD>(sub(3)));
  flownetfusion = register_module("flownetfusion", std::make_shared<FlowNetFusion>(sub(4)));
  set_requires_grad(".*", false);
  eval();
}

FlowNet2Flows FlowNet2::forward_all(const Tensor& inputs) const {
  VPS_CHECK(inputs.dim() == 5 && inputs.size(1) == 3 && inputs.size(2) == 2 && inputs.size(3) > 0 &&
                inputs.size(4) > 0 && inputs.size(3) % 64 == 0 && inputs.size(4) % 64 == 0,
            "FlowNet2: inputs must be (B, 3, 2, H, W) (RGB, two frames) with H and W multiples of 64, got ",
            shape_str(inputs.shape()));
  VPS_CHECK(inputs.dtype() == opt_.dtype, "FlowNet2: inputs dtype ", dtype_name(inputs.dtype()),
            " differs from the weights' ", dtype_name(opt_.dtype));
  autograd::NoGradGuard no_grad;
  Tensor xn = (inputs - mean(inputs, {2, 3, 4}, true)) / kRgbMax;  // mean over both frames per channel
  Tensor x = cat({select(xn, 2, 0), select(xn, 2, 1)}, 1);
  Tensor i0 = slice(x, 1, 0, 3), i1 = contiguous(slice(x, 1, 3, 6));
  auto error = [&](const Tensor& warped) { return channel_norm(i0 - warped); };
  auto glue = [&](const Tensor& flow) {  // [x, frame 1 warped by flow, flow / 20, brightness error]
    Tensor warped = resample2d(i1, flow);
    return cat({x, warped, flow / kDivFlow, error(warped)}, 1);
  };

  FlowNet2Flows f;
  f.c = up4(flownetc->forward(x) * kDivFlow, InterpMode::bilinear);
  f.s1 = up4(flownets_1->forward(glue(f.c)) * kDivFlow, InterpMode::bilinear);
  f.s2 = up4(flownets_2->forward(glue(f.s1)) * kDivFlow, InterpMode::nearest);
  f.sd = up4(flownets_d->forward(x) / kDivFlow, InterpMode::nearest);  // divided, as the original (spec A.2 step 9)
  Tensor concat3 = cat({i0, f.sd, f.s2, channel_norm(f.sd), channel_norm(f.s2), error(resample2d(i1, f.sd)),
                        error(resample2d(i1, f.s2))},
                       1);
  f.fused = flownetfusion->forward(concat3);
  return f;
}

Tensor flownet2_input(const Tensor& img, const Tensor& ref_img) {
  VPS_CHECK(img.dim() == 4 && img.size(1) == 3 && img.shape() == ref_img.shape(),
            "compute_flow: img and ref_img must be (B, 3, H, W) of the same shape, got ", shape_str(img.shape()),
            " and ", shape_str(ref_img.shape()));
  VPS_CHECK(is_floating(img.dtype()) && img.dtype() == ref_img.dtype() && img.device() == ref_img.device(),
            "compute_flow: img and ref_img must be float tensors of one dtype and device, got ",
            dtype_name(img.dtype()), " and ", dtype_name(ref_img.dtype()));
  Tensor mean_rgb = channel_constants(kMean, img), std_rgb = channel_constants(kStd, img);
  Tensor rgbs = stack({img * std_rgb + mean_rgb, ref_img * std_rgb + mean_rgb}, 2);
  const int64_t h = img.size(2), w = img.size(3);
  // Zeros (black) before FlowNet2's own mean subtraction, so they count in its mean, as in vps.
  return pad(rgbs, {0, (64 - w % 64) % 64, 0, (64 - h % 64) % 64});
}

Tensor compute_flow(const FlowNet2& net, const Tensor& img, const Tensor& ref_img) {
  autograd::NoGradGuard no_grad;
  Tensor flow = net.forward(flownet2_input(img, ref_img));
  flow = slice(slice(flow, 2, 0, img.size(2)), 3, 0, img.size(3));  // the top-left (H, W)
  return interpolate_scale(flow, {0.25, 0.25}, InterpMode::bilinear, false) * 0.25;
}

// `vps inspect FILE --model FlowNet2` and weight checks: {"type": "FlowNet2", "width_divisor": 1}.
VPS_REGISTER_MODULE("FlowNet2", [](const nlohmann::json& c) -> std::shared_ptr<nn::Module> {
  FlowNetOptions o = cfg::read_all(c, "FlowNet2", [](cfg::Reader& r) {
    r.accept({"type"});
    FlowNetOptions f;
    f.width_divisor = r.get_int("width_divisor", 1);
    return f;
  });
  return std::make_shared<FlowNet2>(o);
});

}  // namespace vps::models
