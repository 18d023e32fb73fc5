// conv_transpose2d as conv2d run backwards. The conv2d problem `pb` below has the transposed
// output y as its input and x as its output, and w (Cin, Cout/groups, kh, kw) as its weight, so
//   y  = conv2d input-gradient of x,   gx = conv2d forward of gy,   gw = conv2d weight pass (gy, x).
#include <memory>

#include "autograd/node.h"
#include "layers/conv_transpose2d.h"

namespace vps {
namespace {

using namespace conv_detail;

struct ConvTranspose2dBackward : autograd::Node {
  ConvProblem pb;
  bool cudnn = false;
  autograd::SavedTensor x, w;
  const char* name() const override { return "ConvTranspose2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor gy = grads[0].contiguous();
    std::vector<Tensor> out(next.size());
    if (next[0].valid()) out[0] = forward(pb, gy, w.get(name()), cudnn);
    if (next[1].valid()) out[1] = backward_weight(pb, gy, x.get(name()), cudnn);
    if (next.size() > 2 && next[2].valid()) out[2] = bias_grad(gy, cudnn);
    return out;
  }
  void release() override {
    x.reset();
    w.reset();
  }
};

ConvProblem make_transpose_problem(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvParams& p) {
  const char* op = "conv_transpose2d";
  VPS_CHECK(x.defined() && w.defined(), op, ": input and weight must be defined");
  std::string shapes = str_cat(" (input ", shape_str(x.shape()), ", weight ", shape_str(w.shape()),
                               bias.defined() ? ", bias " + shape_str(bias.shape()) : std::string(), ")");
  VPS_CHECK(x.dim() == 4 && w.dim() == 4, op, ": expected 4-D input (N, C, H, W) and 4-D weight", shapes);
  VPS_CHECK(x.dtype() == w.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), op, ": dtype mismatch: input ", dtype_name(x.dtype()), ", weight ",
            dtype_name(w.dtype()), shapes);
  VPS_CHECK(x.device() == w.device(), op, ": tensors on different devices", shapes);
  VPS_CHECK(p.groups >= 1 && w.size(0) % p.groups == 0, op, ": groups=", p.groups,
            " must divide the weight's input channels ", w.size(0), shapes);
  VPS_CHECK(x.size(1) == w.size(0), op, ": channel mismatch: input has ", x.size(1),
            " channels, weight expects ", w.size(0), shapes);
  int64_t out_hw[2];
  for (int i = 0; i < 2; ++i) {
    VPS_CHECK(p.stride[i] >= 1 && p.dilation[i] >= 1 && p.padding[i] >= 0, op,
              ": stride and dilation must be >= 1 and padding >= 0", shapes);
    VPS_CHECK(p.output_padding[i] >= 0 && p.output_padding[i] < p.stride[i], op, ": output_padding ",
              p.output_padding[i], " must be >= 0 and smaller than stride ", p.stride[i], shapes);
    out_hw[i] = (x.size(2 + i) - 1) * p.stride[i] - 2 * p.padding[i] + p.dilation[i] * (w.size(2 + i) - 1) +
                p.output_padding[i] + 1;
    VPS_CHECK(out_hw[i] >= 1, op, ": output size ", out_hw[i], " is not positive", shapes);
  }
  // The conv2d whose input is y (N, Cout, Ho, Wo) and whose output is x; its weight is w itself.
  Tensor y_meta = Tensor::empty({0, w.size(1) * p.groups, out_hw[0], out_hw[1]}, x.dtype(), x.device());
  ConvProblem pb = make_conv_problem(op, y_meta, w, Tensor(), ConvParams{
      p.stride, p.padding, p.dilation, {0, 0}, p.groups, p.algo});
  VPS_CHECK(pb.g.Ho == x.size(2) && pb.g.Wo == x.size(3), op, ": inconsistent output size", shapes);
  pb.N = x.size(0);
  return pb;
}

}  // namespace

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, Pair stride, Pair padding,
                        Pair output_padding, int64_t groups, Pair dilation, ConvAlgo algo) {
  ConvParams p;
  p.stride = stride, p.padding = padding, p.dilation = dilation, p.output_padding = output_padding;
  p.groups = groups;
  ConvProblem pb = make_transpose_problem(x, w, bias, p);
  VPS_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == pb.g.C), "conv_transpose2d: bias must be (",
            pb.g.C, "), got ", shape_str(bias.shape()));
  bool cudnn = use_cudnn(algo, x.device());
  Tensor xc = x.contiguous(), wc = w.contiguous();
  Tensor y = backward_input(pb, xc, wc, cudnn, bias);
  std::vector<Tensor> inputs = {x, w};
  if (bias.defined()) inputs.push_back(bias);
  if (autograd::needs_grad(inputs)) {
    auto node = std::make_shared<ConvTranspose2dBackward>();
    node->pb = pb;
    node->cudnn = cudnn;
    node->x = xc.detach();
    node->w = wc.detach();
    autograd::record(node, inputs, {y});
  }
  return y;
}

}  // namespace vps
