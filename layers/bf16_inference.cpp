#include "layers/bf16_inference.h"

#include <algorithm>

#include "autograd/node.h"
#include "tensor/bf16.h"
#include "tensor/blas.h"

namespace vps {

void check_bf16_inference(const char* op, const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    VPS_CHECK(t.device().is_cpu() && t.dtype() == DType::f32, op,
              ": bf16 products run on float32 CPU tensors only (inference on the CPU), got ", t.str());
  }
  VPS_CHECK(!autograd::needs_grad(inputs), op,
            ": bf16 products are for inference: an input requires a gradient (run under NoGradGuard)");
  std::string why = blas::bf16_gemm_unavailable();
  VPS_CHECK(why.empty(), op, ": bf16 products cannot run here: ", why);
}

Tensor linear_bf16(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_bf16_inference("linear", {x, weight, bias});
  VPS_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input shape ",
            shape_str(x.shape()), " and weight shape ", shape_str(weight.shape()),
            " do not match (expected x (..., in) and weight (out, in))");
  int64_t in = weight.size(1), outf = weight.size(0);
  VPS_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == outf), "linear: bias shape ",
            shape_str(bias.shape()), " does not match weight shape ", shape_str(weight.shape()));
  Shape out_shape = x.shape();
  out_shape.back() = outf;
  int64_t M = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  Tensor xb = to_bf16(x), wb = to_bf16(weight), y = Tensor::empty(out_shape, DType::f32, kCPU);
  float* yp = y.data<float>();
  if (in == 0 && !bias.defined()) y.zero_();
  if (bias.defined()) {
    Tensor b = bias.contiguous();
    for (int64_t r = 0; r < M; ++r) std::copy(b.data<float>(), b.data<float>() + outf, yp + r * outf);
  }
  blas::gemm_batched_bf16(false, true, M, outf, in, xb.data<bf16>(), in, 0, wb.data<bf16>(), in, 0,
                          bias.defined() ? 1.f : 0.f, yp, outf, 0, 1);
  return y;
}

}  // namespace vps
