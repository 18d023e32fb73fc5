// conv2d forwards through oneDNN's convolution primitive, on the CPU:
// - float32 input layers (ResNet's stem: 3 input channels, 7x7 / 2) on CPUs without AVX-512 (where
//   there is AVX-512, layers/conv2d_input_layer.cpp's kernel comes first). The tiled path is an im2col
//   (K = C*kh*kw = 147) and a GEMM of 64 rows, which oneDNN's sgemm runs at 140-165 GFLOP/s a core on
//   every arrangement tried; oneDNN's direct kernel for few-channel inputs reads the image as it is.
// - the forwards with bf16 products (ConvParams::precision; CPU float32 inference) but the 1x1s
//   (layers/conv2d_pointwise_bf16.cpp): the input and weights converted to bf16 in oneDNN's blocked
//   layouts by its reorders (round to nearest even, as ours), summed in float32 by its AMX /
//   AVX512-BF16 kernels (brgconv), 2.5-3.5x faster on 3x3 convs than the im2col columns and bf16 GEMMs
//   this path had before; an epilogue's ReLU as a post-op.
// Weights, input and output go through oneDNN's layouts (reorders into buffers of our allocator). Its
// forward kernels split the work over images, output channel blocks and rows, never over a sum: the
// same bits on any thread count (tests/test_determinism.cpp, tests/test_bf16.cpp). oneDNN caches the
// primitives it makes. Built with DNNL=0, the input layers take the tiled path, and bf16 is refused
// (tensor/blas.h bf16_gemm_unavailable).
#include "layers/conv2d.h"

#include <unordered_map>
#include <vector>

#if VPS_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace vps::conv_detail {

bool dnnl_input_layer_applies(const ConvProblem& pb, DType dtype) {
#if VPS_DNNL
  return is_input_layer(pb, dtype);
#else
  (void)pb, (void)dtype;
  return false;
#endif
}

namespace {

// y (N, O, Ho, Wo) float32 = relu?(conv(x, w) + bias), the products' inputs in bf16 when bf16_products.
void forward_dnnl(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                  bool bf16_products, bool relu = false) {
#if VPS_DNNL
  using dnnl::memory;
  const ConvGeom& g = pb.g;
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  try {
    const int64_t G = pb.groups;
    const memory::dims src{pb.N, g.C, g.H, g.W}, dst{pb.N, pb.O, g.Ho, g.Wo};
    const memory::dims wei = G == 1 ? memory::dims{pb.O, g.C, g.kh, g.kw}
                                    : memory::dims{G, pb.O / G, g.C / G, g.kh, g.kw};  // w's own memory
    const auto f32 = memory::data_type::f32, in = bf16_products ? memory::data_type::bf16 : f32;
    const auto any = memory::format_tag::any;
    memory::desc src_user(src, f32, memory::format_tag::nchw),
        wei_user(wei, f32, G == 1 ? memory::format_tag::oihw : memory::format_tag::goihw),
        dst_user(dst, f32, memory::format_tag::nchw), bias_md({pb.O}, f32, memory::format_tag::x);
    // the few-channel float32 kernel reads the image as it is; bf16 inputs go through a reorder
    memory::desc src_md = bf16_products ? memory::desc(src, in, any) : src_user;
    memory::desc wei_md(wei, in, any), dst_md(dst, f32, any);
    // oneDNN's dilation counts the gaps: ours minus one
    const memory::dims stride{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1}, pad{g.ph, g.pw};
    const auto kind = dnnl::prop_kind::forward_inference;
    const auto algo = dnnl::algorithm::convolution_direct;
    auto desc = bias.defined()
                    ? dnnl::convolution_forward::desc(kind, algo, src_md, wei_md, bias_md, dst_md, stride, dil, pad, pad)
                    : dnnl::convolution_forward::desc(kind, algo, src_md, wei_md, dst_md, stride, dil, pad, pad);
    dnnl::primitive_attr attr;
    if (relu) {  // max(y, 0) on the sums before they are written
      dnnl::post_ops po;
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(po);
    }
    dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
    dnnl::stream stream(engine);
    Tensor b = bias.defined() ? bias.contiguous() : bias;
    // oneDNN's layouts in buffers from our allocator (its own would map fresh pages on every call)
    std::vector<Tensor> buffers;
    auto in_buffer = [&](const memory::desc& md) {
      buffers.push_back(Tensor::empty({int64_t((md.get_size() + 3) / 4)}, DType::f32, kCPU));
      return memory(md, engine, buffers.back().data<float>());
    };
    auto in_layout = [&](const memory::desc& want, memory user) {  // user's data reordered into `want`
      if (want == user.get_desc()) return user;
      memory m = in_buffer(want);
      dnnl::reorder(user, m).execute(stream, user, m);
      return m;
    };
    memory xu(src_user, engine, const_cast<float*>(x.data<float>()));
    memory wu(wei_user, engine, const_cast<float*>(w.data<float>())), yu(dst_user, engine, y.data<float>());
    memory xm = in_layout(pd.src_desc(), xu), wm = in_layout(pd.weights_desc(), wu);
    memory ym = pd.dst_desc() == dst_user ? yu : in_buffer(pd.dst_desc());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
    if (b.defined()) args[DNNL_ARG_BIAS] = memory(bias_md, engine, const_cast<float*>(b.data<float>()));
    dnnl::convolution_forward(pd).execute(stream, args);
    if (pd.dst_desc() != dst_user) dnnl::reorder(ym, yu).execute(stream, ym, yu);
    stream.wait();
  } catch (const dnnl::error& e) {
    VPS_FAIL("conv2d: oneDNN's ", bf16_products ? "bf16 " : "", "convolution failed on input ", shape_str(x.shape()),
             ", weight ", shape_str(w.shape()), ": ", e.what(), " (status ", int(e.status), ")");
  }
#else
  (void)pb, (void)x, (void)w, (void)bias, (void)y, (void)bf16_products, (void)relu;
  VPS_FAIL("conv2d: vps was built without oneDNN (DNNL=0)");
#endif
}

}  // namespace

void forward_dnnl_input_layer(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y) {
  forward_dnnl(pb, x, w, bias, y, false);
}

void forward_dnnl_bf16(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, bool relu,
                       Tensor& y) {
  forward_dnnl(pb, x, w, bias, y, true, relu);
}

}  // namespace vps::conv_detail
