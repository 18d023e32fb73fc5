// conv2d: im2col + GEMM (OpenBLAS on CPU, cuBLAS on CUDA) with a cuDNN path on CUDA builds.
// Per image n and group g:  y[n, g] (Og, L) = W_g (Og, Kg) @ col_g (Kg, L),  Kg = Cg*kh*kw, L = Ho*Wo.
// Backward: gW_g += gy_g @ col_g^T,  gcol_g = W_g^T @ gy_g then col2im (gather) into gx[n].
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "autograd/node.h"
#include "layers/conv2d.h"
#include "tensor/blas.h"

namespace vps {
namespace conv_detail {

static bool is_float(DType t) { return t == DType::f32 || t == DType::f64; }

ConvProblem make_conv_problem(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                              const ConvParams& p) {
  VPS_CHECK(x.defined() && w.defined(), op, ": input and weight must be defined");
  std::string shapes = str_cat(" (input ", shape_str(x.shape()), ", weight ", shape_str(w.shape()),
                               bias.defined() ? ", bias " + shape_str(bias.shape()) : std::string(), ")");
  VPS_CHECK(x.dim() == 4 && w.dim() == 4, op, ": expected 4-D input (N, C, H, W) and 4-D weight", shapes);
  VPS_CHECK(is_float(x.dtype()) && x.dtype() == w.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), op,
            ": dtype mismatch or non-float dtype: input ", dtype_name(x.dtype()), ", weight ", dtype_name(w.dtype()),
            bias.defined() ? str_cat(", bias ", dtype_name(bias.dtype())) : std::string(), shapes);
  VPS_CHECK(x.device() == w.device() && (!bias.defined() || bias.device() == x.device()), op,
            ": tensors on different devices (input ", x.device().str(), ", weight ", w.device().str(), ")", shapes);
  VPS_CHECK(p.groups >= 1, op, ": groups must be >= 1, got ", p.groups, shapes);
  for (int i = 0; i < 2; ++i)
    VPS_CHECK(p.stride[i] >= 1 && p.dilation[i] >= 1 && p.padding[i] >= 0, op,
              ": stride and dilation must be >= 1 and padding >= 0", shapes);
  ConvProblem pb;
  pb.groups = p.groups;
  pb.N = x.size(0);
  ConvGeom& g = pb.g;
  g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.kh = w.size(2), g.kw = w.size(3);
  g.sh = p.stride[0], g.sw = p.stride[1], g.ph = p.padding[0], g.pw = p.padding[1];
  g.dh = p.dilation[0], g.dw = p.dilation[1];
  pb.O = w.size(0);
  VPS_CHECK(g.C % p.groups == 0 && pb.O % p.groups == 0, op, ": groups=", p.groups,
            " must divide input channels ", g.C, " and output channels ", pb.O, shapes);
  VPS_CHECK(w.size(1) * p.groups == g.C, op, ": channel mismatch: input has ", g.C, " channels, weight expects ",
            w.size(1), " x groups ", p.groups, shapes);
  VPS_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == pb.O), op, ": bias must be (", pb.O, ")", shapes);
  g.Ho = (g.H + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.Wo = (g.W + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  VPS_CHECK(g.H + 2 * g.ph >= g.dh * (g.kh - 1) + 1 && g.W + 2 * g.pw >= g.dw * (g.kw - 1) + 1, op,
            ": kernel (dilated) larger than padded input", shapes);
  return pb;
}

bool use_cudnn(ConvAlgo algo, Device d) {
  if (!d.is_cuda() || algo == ConvAlgo::im2col) return false;
#if VPS_CUDNN
  if (algo == ConvAlgo::cudnn) return true;
  const char* env = std::getenv("VPS_CONV_IM2COL");
  return !(env && std::strcmp(env, "1") == 0);
#else
  VPS_CHECK(algo != ConvAlgo::cudnn, "conv2d: ConvAlgo::cudnn requested but vps was built without cuDNN");
  return false;
#endif
}

namespace {

template <class T>
const T* column_of(const ConvGeom& g, const T* xn, Tensor& col, Device d) {
  if (g.is_pointwise()) return xn;
  if (!col.defined()) col = Tensor::empty({g.col_rows(), g.col_cols()}, dtype_of<T>::value, d);
  Im2colBody<T> body{g, xn, col.data<T>(), conv_chunk(d, g.Wo)};
  parallel_for(d, body.count(), body);
  return col.data<T>();
}

template <class T>
void forward_t(const ConvProblem& pb, const Tensor& x, const Tensor& w, Tensor& y) {
  const ConvGeom& g = pb.g;
  Device d = x.device();
  int64_t G = pb.groups, Og = pb.O / G, Kg = g.col_rows() / G, L = g.col_cols();
  Tensor col;
  for (int64_t n = 0; n < pb.N; ++n) {
    const T* c = column_of<T>(g, x.data<T>() + n * g.C * g.H * g.W, col, d);
    T* yn = y.data<T>() + n * pb.O * L;
    blas::gemm_batched<T>(d, false, false, Og, L, Kg, T(1), w.data<T>(), Kg, Og * Kg, c, L, Kg * L, T(0), yn, L,
                          Og * L, G);
  }
}

template <class T>
void backward_input_t(const ConvProblem& pb, const Tensor& gy, const Tensor& w, Tensor& gx) {
  const ConvGeom& g = pb.g;
  Device d = gy.device();
  int64_t G = pb.groups, Og = pb.O / G, Kg = g.col_rows() / G, L = g.col_cols();
  Tensor col;
  if (!g.is_pointwise()) col = Tensor::empty({g.col_rows(), L}, dtype_of<T>::value, d);
  for (int64_t n = 0; n < pb.N; ++n) {
    T* gxn = gx.data<T>() + n * g.C * g.H * g.W;
    T* c = g.is_pointwise() ? gxn : col.data<T>();
    blas::gemm_batched<T>(d, true, false, Kg, L, Og, T(1), w.data<T>(), Kg, Og * Kg, gy.data<T>() + n * pb.O * L, L,
                          Og * L, T(0), c, L, Kg * L, G);
    if (g.is_pointwise()) continue;
    Col2imBody<T> body{g, c, gxn, false, conv_chunk(d, g.W)};
    parallel_for(d, body.count(), body);
  }
}

template <class T>
void backward_weight_t(const ConvProblem& pb, const Tensor& x, const Tensor& gy, Tensor& gw) {
  const ConvGeom& g = pb.g;
  Device d = x.device();
  int64_t G = pb.groups, Og = pb.O / G, Kg = g.col_rows() / G, L = g.col_cols();
  Tensor col;
  for (int64_t n = 0; n < pb.N; ++n) {
    const T* c = column_of<T>(g, x.data<T>() + n * g.C * g.H * g.W, col, d);
    blas::gemm_batched<T>(d, false, true, Og, Kg, L, T(1), gy.data<T>() + n * pb.O * L, L, Og * L, c, L, Kg * L,
                          T(n == 0 ? 0 : 1), gw.data<T>(), Kg, Og * Kg, G);
  }
  if (pb.N == 0) gw.zero_();
}

}  // namespace

Tensor forward(const ConvProblem& pb, const Tensor& x, const Tensor& w, bool cudnn) {
  Tensor y = Tensor::empty({pb.N, pb.O, pb.g.Ho, pb.g.Wo}, x.dtype(), x.device());
#if VPS_CUDNN
  if (cudnn && pb.N > 0) {
    cudnn_forward(pb, x, w, y);
    return y;
  }
#endif
  VPS_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] { forward_t<scalar_t>(pb, x, w, y); });
  return y;
}

Tensor backward_input(const ConvProblem& pb, const Tensor& gy, const Tensor& w, bool cudnn) {
  Tensor gx = Tensor::empty({pb.N, pb.g.C, pb.g.H, pb.g.W}, gy.dtype(), gy.device());
#if VPS_CUDNN
  if (cudnn && pb.N > 0) {
    cudnn_backward_input(pb, gy, w, gx);
    return gx;
  }
#endif
  VPS_DISPATCH_FLOAT(gy.dtype(), "conv2d backward", [&] { backward_input_t<scalar_t>(pb, gy, w, gx); });
  return gx;
}

Tensor backward_weight(const ConvProblem& pb, const Tensor& x, const Tensor& gy, bool cudnn) {
  Tensor gw = Tensor::empty({pb.O, pb.g.C / pb.groups, pb.g.kh, pb.g.kw}, x.dtype(), x.device());
#if VPS_CUDNN
  if (cudnn && pb.N > 0) {
    cudnn_backward_weight(pb, x, gy, gw);
    return gw;
  }
#endif
  VPS_DISPATCH_FLOAT(x.dtype(), "conv2d backward", [&] { backward_weight_t<scalar_t>(pb, x, gy, gw); });
  return gw;
}

void add_bias(Tensor& y, const Tensor& bias) {
  Tensor b = bias.contiguous();
  int64_t O = y.size(1), L = y.numel() / std::max<int64_t>(1, y.size(0) * O);
  VPS_DISPATCH_FLOAT(y.dtype(), "conv bias", [&] {
    parallel_for(y.device(), y.numel(), AddBiasBody<scalar_t>{b.data<scalar_t>(), y.data<scalar_t>(), O, L});
  });
}

Tensor bias_grad(const Tensor& gy, bool cudnn) {
  int64_t N = gy.size(0), O = gy.size(1), L = gy.numel() / std::max<int64_t>(1, N * O);
  Tensor gb = Tensor::empty({O}, gy.dtype(), gy.device());
#if VPS_CUDNN
  if (cudnn && N * L > 0) {
    cudnn_bias_grad(gy, gb);
    return gb;
  }
#endif
  VPS_DISPATCH_FLOAT(gy.dtype(), "conv bias backward", [&] {
    parallel_for(gy.device(), O, BiasGradBody<scalar_t>{gy.data<scalar_t>(), gb.data<scalar_t>(), N, O, L});
  });
  return gb;
}

}  // namespace conv_detail

namespace {

using namespace conv_detail;

struct Conv2dBackward : autograd::Node {
  ConvProblem pb;
  bool cudnn = false;
  autograd::SavedTensor x, w;
  const char* name() const override { return "Conv2dBackward"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor gy = grads[0].contiguous();
    std::vector<Tensor> out(next.size());
    if (next[0].valid()) out[0] = backward_input(pb, gy, w.get(name()), cudnn);
    if (next[1].valid()) out[1] = backward_weight(pb, x.get(name()), gy, cudnn);
    if (next.size() > 2 && next[2].valid()) out[2] = bias_grad(gy, cudnn);
    return out;
  }
  void release() override {
    x.reset();
    w.reset();
  }
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Pair stride, Pair padding, Pair dilation,
              int64_t groups, ConvAlgo algo) {
  ConvParams p;
  p.stride = stride, p.padding = padding, p.dilation = dilation, p.groups = groups;
  ConvProblem pb = make_conv_problem("conv2d", x, w, bias, p);
  bool cudnn = use_cudnn(algo, x.device());
  Tensor xc = x.contiguous(), wc = w.contiguous();
  Tensor y = forward(pb, xc, wc, cudnn);
  if (bias.defined()) add_bias(y, bias);
  std::vector<Tensor> inputs = {x, w};
  if (bias.defined()) inputs.push_back(bias);
  if (autograd::needs_grad(inputs)) {
    auto node = std::make_shared<Conv2dBackward>();
    node->pb = pb;
    node->cudnn = cudnn;
    node->x = xc.detach();
    node->w = wc.detach();
    autograd::record(node, inputs, {y});
  }
  return y;
}

}  // namespace vps
