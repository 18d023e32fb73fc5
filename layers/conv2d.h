// 2-D convolution (cross-correlation, PyTorch semantics) and the raw im2col+GEMM / cuDNN passes that
// conv_transpose2d reuses.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "layers/kernels/im2col.h"
#include "tensor/tensor.h"

namespace vps {

using Pair = std::array<int64_t, 2>;

// Which implementation runs on CUDA tensors. automatic = cuDNN when built with VPS_CUDNN=1, otherwise
// im2col + cuBLAS; im2col and cudnn force one (per call or per module, no global switch). CPU tensors
// use im2col + OpenBLAS GEMM: tiled per thread (automatic), or whole images like CUDA (im2col, the
// reference).
enum class ConvAlgo { automatic, im2col, cudnn };

struct ConvParams {
  Pair stride{1, 1}, padding{0, 0}, dilation{1, 1};
  Pair output_padding{0, 0};  // conv_transpose2d only
  int64_t groups = 1;
  ConvAlgo algo = ConvAlgo::automatic;
  int64_t cpu_tile_kb = 2048;  // column tile of the CPU tiled path, in KiB (the tests shrink it to 1)
  // bf16: the product's inputs rounded to bf16, summed in float32 (CPU float32 inference only, no
  // autograd; errors say why where it cannot run: tensor/blas.h bf16_gemm_unavailable).
  MatmulPrecision precision = MatmulPrecision::f32;
};

// x: (N, C, H, W), w: (O, C/groups, kh, kw), bias: (O) or undefined; float32/float64, one device.
// Returns (N, O, Ho, Wo) with Ho = (H + 2p - d(kh-1) - 1)/s + 1. Backward saves x and w.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), Pair stride = {1, 1},
              Pair padding = {0, 0}, Pair dilation = {1, 1}, int64_t groups = 1,
              ConvAlgo algo = ConvAlgo::automatic);
// The same with every option in one struct (output_padding is ignored).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvParams& params);

// What follows a convolution at inference (a folded BatchNorm, a residual sum, ReLU):
// y = act(scale * conv(x, w) + bias + residual), scale (O) and residual (N, O, Ho, Wo) optional.
// With bf16 products it is fused into the pass that writes y (layers/conv2d_epilogue.cpp); otherwise,
// and under autograd, it runs as the separate ops.
struct ConvEpilogue {
  Tensor scale;     // (O) or undefined
  Tensor residual;  // y's shape or undefined
  bool relu = false;
};
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvParams& params, const ConvEpilogue& e);

namespace conv_detail {

// Full problem of one conv2d: batch N, geometry of one image (input side), output channels O, groups.
struct ConvProblem {
  int64_t N = 0, O = 0, groups = 1;
  int64_t cpu_tile_kb = 2048;  // ConvParams::cpu_tile_kb
  ConvGeom g;
};

// Validates shapes of a conv2d call and fills the problem; errors name `op` and the shapes.
ConvProblem make_conv_problem(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                              const ConvParams& p);
bool use_cudnn(ConvAlgo algo, Device d);

// CPU tiles of a forward or backward pass: `rows` whole output rows of one image (and with `oblocks`
// > 1 a block of output channels), at least `min_rows` rows, the column tile about
// pb.cpu_tile_kb for elements of `elem` bytes; the geometry never depends on the thread count.
constexpr int kTileSlots = 8;  // the tile count is balanced for 1, 2, 4 and 8 threads
struct CpuTiles {
  int threads;  // OpenMP threads that run the tiles (the machine's, at most one per tile)
  int64_t rows, per_image, oblocks, ntiles;
};
CpuTiles cpu_tiles(const ConvProblem& pb, size_t elem, int64_t min_rows, bool split_o);

// Tile t of a forward's CpuTiles: image n, output rows [oh0, oh0 + R) (cols = R * Wo columns), output
// channels [o0, o0 + channels) (every group's unless the channels are split), gemm_m rows in each
// group's product; empty when a channel block falls past O.
struct ForwardTile {
  int64_t n, oh0, R, cols, o0, channels, gemm_m;
  bool empty;
};
ForwardTile forward_tile(const ConvProblem& pb, const CpuTiles& tl, int64_t t);
// The bias of the tile's channels written into its part of y (row stride L), before a GEMM with beta 1.
template <class T>
void prefill_bias(T* yt, const T* bias, const ForwardTile& ft, int64_t L) {
  for (int64_t o = 0; o < ft.channels; ++o) std::fill(yt + o * L, yt + o * L + ft.cols, bias[ft.o0 + o]);
}

// The forward with bf16 products (ConvParams::precision, CPU float32 inference; layers/conv2d_epilogue.cpp):
// -> y (N, O, Ho, Wo) float32 with the bias and the epilogue applied (tensors checked by the caller).
Tensor forward_cpu_bf16(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias,
                        const ConvEpilogue& e);
// Its 1x1 convolutions (no padding, groups 1, any stride) as GEMMs on the NCHW tensors, without
// oneDNN's channels-last reorders, the whole epilogue in the pass that writes y
// (layers/conv2d_pointwise_bf16.cpp); y preallocated, bias may be undefined.
bool pointwise_bf16_applies(const ConvProblem& pb);
void forward_pointwise_bf16(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias,
                            const ConvEpilogue& e, Tensor& y);
// The others through oneDNN's convolution (layers/conv2d_dnnl.cpp), ReLU as its post-op when `relu`.
void forward_dnnl_bf16(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, bool relu,
                       Tensor& y);

// Im2colBody's whole tile on the CPU, serially, the index arithmetic once per (c, ki, j): built for
// the baseline and, on x86-64 with GCC, for AVX2 as well, picked at load time (copies only: the same
// values on every CPU; the stem's stride-2 gathers run 2x faster).
template <class T>
void im2col_tile_cpu(const Im2colBody<T>& body);

// The CPU tiled forward into a preallocated y (N, O, Ho, Wo), the bias (O, may be undefined) added;
// Winograd's or oneDNN's where they apply (below).
void forward_cpu_into(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y);

// CPU backward passes for large weights (groups 1, at least kLargeConvWeight elements; every conv of the
// demo's tiny model is below it, so its bits stay those of the tiled sweep): layers/conv2d_cpu.cpp.
// Each returns false, writing nothing, where it does not apply; gx gets `bias` (C, may be undefined)
// added, the transposed conv's.
constexpr int64_t kLargeConvWeight = 65536;
bool weight_grad_large(const ConvProblem& pb, const Tensor& x, const Tensor& gy, Tensor& gw);
bool input_grad_large(const ConvProblem& pb, const Tensor& gy, const Tensor& w, const Tensor& bias, Tensor& gx);

// The float32 CPU forward by Winograd's F(2x2, 3x3) (layers/conv2d_winograd.cpp): 3x3, stride 1, no
// dilation, groups 1, a weight of at least kLargeConvWeight elements. The tiled forward takes it where
// it applies (so does the large-weight input gradient, a forward conv); y (N, O, Ho, Wo) preallocated,
// bias (O) may be undefined.
bool winograd_applies(const ConvProblem& pb, DType dtype);
void forward_winograd(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y);

// The float32 CPU forward of an input layer (at most 4 input channels, output channels in blocks of 16:
// ResNet's stem) by our AVX-512 kernel that writes NCHW (layers/conv2d_input_layer.cpp; CPUs with
// AVX-512, x86-64 builds with GCC), else through oneDNN's convolution primitive (layers/conv2d_dnnl.cpp;
// never in DNNL=0 builds). The tiled forward takes the first that applies.
// The shape both take: float32, one group, 1-4 input channels, at least 16 outputs in whole blocks of 16
// (the demo's 8-channel stem keeps its bits), a non-empty output.
inline bool is_input_layer(const ConvProblem& pb, DType dtype) {
  return dtype == DType::f32 && pb.groups == 1 && pb.g.C >= 1 && pb.g.C <= 4 && pb.O >= 16 && pb.O % 16 == 0 &&
         pb.N > 0 && pb.g.Ho > 0 && pb.g.Wo > 0;
}
bool input_layer_kernel_applies(const ConvProblem& pb, DType dtype);
void forward_input_layer_kernel(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias,
                                Tensor& y);
bool dnnl_input_layer_applies(const ConvProblem& pb, DType dtype);
void forward_dnnl_input_layer(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y);

// Raw passes (no autograd), contiguous inputs, same dtype and device. Shapes from `pb`:
// x (N, C, H, W), w (O, C/groups, kh, kw), y (N, O, Ho, Wo).
Tensor forward(const ConvProblem& pb, const Tensor& x, const Tensor& w, bool cudnn);          // -> y
Tensor backward_input(const ConvProblem& pb, const Tensor& gy, const Tensor& w, bool cudnn,
                      const Tensor& bias = Tensor());  // -> gx (+ bias (C), the transposed conv's)
Tensor backward_weight(const ConvProblem& pb, const Tensor& x, const Tensor& gy, bool cudnn); // -> gw
void add_bias(Tensor& y, const Tensor& bias);       // y (N, O, ...) contiguous += bias (O)
Tensor bias_grad(const Tensor& gy, bool cudnn);     // gy (N, O, ...) contiguous -> (O)

#if VPS_CUDNN
// cuDNN passes (layers/conv2d_cudnn.cpp). Algorithms are found once per shape key and cached; the
// workspace is bounded by 256 MiB.
void cudnn_forward(const ConvProblem& pb, const Tensor& x, const Tensor& w, Tensor& y);
void cudnn_backward_input(const ConvProblem& pb, const Tensor& gy, const Tensor& w, Tensor& gx);
void cudnn_backward_weight(const ConvProblem& pb, const Tensor& x, const Tensor& gy, Tensor& gw);
void cudnn_bias_grad(const Tensor& gy, Tensor& gb);  // gy (N, O, ...) -> gb (O)
#endif

}  // namespace conv_detail
}  // namespace vps
