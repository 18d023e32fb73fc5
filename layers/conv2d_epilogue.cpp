// conv2d with an inference epilogue (ConvEpilogue: a folded BatchNorm's scale and shift, a residual
// sum, ReLU). With bf16 products the epilogue is fused: the 1x1 convolutions apply all of it in the
// pass that copies their products out, oneDNN's take the scale folded into the weight and ReLU as a
// post-op. Each separate op would otherwise read and write the whole activation again (float32, the
// ResNet's widest maps): BatchNorm, ReLU and the residual add were ~10% of the bf16 frame.
#include "autograd/grad_mode.h"
#include "layers/bf16_inference.h"
#include "layers/conv2d.h"
#include "ops/ops.h"
#include "tensor/check.h"

namespace vps {

namespace conv_detail {

namespace {
// w (O, ...) with row o times scale[o] (a folded BatchNorm's scale), contiguous float32.
Tensor scaled_rows(const Tensor& w, const Tensor& scale) {
  Tensor out = Tensor::empty(w.shape(), DType::f32, kCPU);
  const int64_t O = w.size(0), K = O > 0 ? w.numel() / O : 0;
  const float *src = w.data<float>(), *s = scale.data<float>();
  float* dst = out.data<float>();
  for (int64_t o = 0; o < O; ++o)
    for (int64_t k = 0; k < K; ++k) dst[o * K + k] = src[o * K + k] * s[o];
  return out;
}
}  // namespace

Tensor forward_cpu_bf16(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias,
                        const ConvEpilogue& e) {
  Tensor y = Tensor::empty({pb.N, pb.O, pb.g.Ho, pb.g.Wo}, DType::f32, kCPU);
  if (y.numel() == 0) return y;
  if (pointwise_bf16_applies(pb)) {
    forward_pointwise_bf16(pb, x, w, bias, e, y);
    return y;
  }
  autograd::NoGradGuard ng;
  if (pb.g.C == 0) {  // no input channels (oneDNN refuses them): the bias alone, as the float32 path gives
    y.zero_();
    if (bias.defined()) add_bias(y, bias);
  } else {
    forward_dnnl_bf16(pb, x, e.scale.defined() ? scaled_rows(w, e.scale) : w, bias, e.relu && !e.residual.defined(), y);
    if (!e.residual.defined()) return y;
  }
  if (e.residual.defined()) y = add(y, e.residual);
  return e.relu ? relu(y) : y;
}

}  // namespace conv_detail

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvParams& p, const ConvEpilogue& e) {
  conv_detail::ConvProblem pb = conv_detail::make_conv_problem("conv2d", x, w, bias, p);
  const Shape out{pb.N, pb.O, pb.g.Ho, pb.g.Wo};
  VPS_CHECK(!e.scale.defined() || (e.scale.dim() == 1 && e.scale.size(0) == pb.O), "conv2d: epilogue scale ",
            shape_str(e.scale.shape()), " does not match the ", pb.O, " output channels");
  VPS_CHECK(!e.residual.defined() || e.residual.shape() == out, "conv2d: epilogue residual ",
            shape_str(e.residual.shape()), " does not match the output ", shape_str(out));
  if (p.precision == MatmulPrecision::bf16) {
    check_bf16_inference("conv2d", {x, w, bias, e.scale, e.residual});
    return conv_detail::forward_cpu_bf16(pb, x.contiguous(), w.contiguous(), bias,
                                         {e.scale.defined() ? e.scale.contiguous() : e.scale,
                                          e.residual.defined() ? e.residual.contiguous() : e.residual, e.relu});
  }
  Tensor y = conv2d(x, w, e.scale.defined() ? Tensor() : bias, p);
  if (e.scale.defined()) {  // ops' reshape: differentiable (Tensor::reshape is a plain view)
    y = mul(y, reshape(e.scale, {1, pb.O, 1, 1}));
    if (bias.defined()) y = add(y, reshape(bias, {1, pb.O, 1, 1}));
  }
  if (e.residual.defined()) y = add(y, e.residual);
  return e.relu ? relu(y) : y;
}

}  // namespace vps
