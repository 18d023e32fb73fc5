// conv2d's float32 CPU forward of an input layer (ResNet's stem: 3 input channels, 7x7 / 2) through
// oneDNN's convolution primitive. Our path is an im2col (K = C*kh*kw = 147) and a GEMM of 64 rows,
// which oneDNN's sgemm runs at 140-165 GFLOP/s a core on every arrangement tried; oneDNN's direct
// kernel for few-channel inputs (jit:avx512_core on this CPU) reads the image as it is. Weights and
// output go through oneDNN's blocked layouts (two reorders: 9408 weights, the 3.2 MB output). It
// splits the work over output channel blocks and rows, never over the sum: the same bits on any
// thread count (tests/test_determinism.cpp). oneDNN caches the primitives it makes. Built with
// DNNL=0, the tiled im2col path runs instead.
#include "layers/conv2d.h"

#include <unordered_map>

#if VPS_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace vps::conv_detail {

bool dnnl_input_layer_applies(const ConvProblem& pb, DType dtype) {
#if VPS_DNNL
  // 16 output channels at least, in whole blocks of 16 (the demo's 8-channel stem keeps its bits)
  return dtype == DType::f32 && pb.groups == 1 && pb.g.C <= 4 && pb.O >= 16 && pb.O % 16 == 0 && pb.N > 0 &&
         pb.g.Ho > 0 && pb.g.Wo > 0;
#else
  (void)pb, (void)dtype;
  return false;
#endif
}

void forward_dnnl_input_layer(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y) {
#if VPS_DNNL
  using dnnl::memory;
  const ConvGeom& g = pb.g;
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  try {
    const memory::dims src{pb.N, g.C, g.H, g.W}, wei{pb.O, g.C, g.kh, g.kw}, dst{pb.N, pb.O, g.Ho, g.Wo};
    const auto f32 = memory::data_type::f32;
    memory::desc src_md(src, f32, memory::format_tag::nchw), wei_user(wei, f32, memory::format_tag::oihw),
        dst_user(dst, f32, memory::format_tag::nchw), wei_any(wei, f32, memory::format_tag::any),
        dst_any(dst, f32, memory::format_tag::any), bias_md({pb.O}, f32, memory::format_tag::x);
    // oneDNN's dilation counts the gaps: ours minus one
    auto desc = bias.defined()
                    ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                      dnnl::algorithm::convolution_direct, src_md, wei_any, bias_md,
                                                      dst_any, {g.sh, g.sw}, {g.dh - 1, g.dw - 1}, {g.ph, g.pw},
                                                      {g.ph, g.pw})
                    : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                      dnnl::algorithm::convolution_direct, src_md, wei_any, dst_any,
                                                      {g.sh, g.sw}, {g.dh - 1, g.dw - 1}, {g.ph, g.pw}, {g.ph, g.pw});
    dnnl::convolution_forward::primitive_desc pd(desc, engine);
    dnnl::stream stream(engine);
    Tensor b = bias.defined() ? bias.contiguous() : bias;
    memory xm(src_md, engine, const_cast<float*>(x.data<float>()));
    memory wu(wei_user, engine, const_cast<float*>(w.data<float>())), yu(dst_user, engine, y.data<float>());
    // oneDNN's layouts in buffers from our allocator (its own would map fresh pages on every call)
    auto buffer = [](const memory::desc& md) {
      return Tensor::empty({int64_t((md.get_size() + 3) / 4)}, DType::f32, kCPU);
    };
    memory wm = wu, ym = yu;
    Tensor wbuf, ybuf;
    if (pd.weights_desc() != wei_user) {
      wbuf = buffer(pd.weights_desc());
      wm = memory(pd.weights_desc(), engine, wbuf.data<float>());
      dnnl::reorder(wu, wm).execute(stream, wu, wm);
    }
    if (pd.dst_desc() != dst_user) {
      ybuf = buffer(pd.dst_desc());
      ym = memory(pd.dst_desc(), engine, ybuf.data<float>());
    }
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
    if (b.defined()) args[DNNL_ARG_BIAS] = memory(bias_md, engine, const_cast<float*>(b.data<float>()));
    dnnl::convolution_forward(pd).execute(stream, args);
    if (pd.dst_desc() != dst_user) dnnl::reorder(ym, yu).execute(stream, ym, yu);
    stream.wait();
  } catch (const dnnl::error& e) {
    VPS_FAIL("conv2d: oneDNN's convolution failed on input ", shape_str(x.shape()), ", weight ", shape_str(w.shape()),
             ": ", e.what(), " (status ", int(e.status), ")");
  }
#else
  (void)pb, (void)x, (void)w, (void)bias, (void)y;
  VPS_FAIL("conv2d: vps was built without oneDNN (DNNL=0)");
#endif
}

}  // namespace vps::conv_detail
