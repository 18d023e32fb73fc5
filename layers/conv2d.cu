// conv2d: im2col + GEMM (OpenBLAS on CPU, cuBLAS on CUDA) with a cuDNN path on CUDA builds.
// Per image n and group g:  y[n, g] (Og, L) = W_g (Og, Kg) @ col_g (Kg, L),  Kg = Cg*kh*kw, L = Ho*Wo.
// Backward: gW_g += gy_g @ col_g^T,  gcol_g = W_g^T @ gy_g then col2im (gather) into gx[n].
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>

#include <omp.h>

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
  pb.cpu_tile_kb = p.cpu_tile_kb;
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
  return true;
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

}  // namespace

// CPU tiles: `rows` whole output rows of one image, a column tile of about `pb.cpu_tile_kb` (default
// 2 MiB), at least `min_rows` rows, and at least kTileSlots tiles where the problem allows. With
// `split_o` (forward, groups == 1), a map too small to give every slot a tile of its own (ResNet's
// 14x14 and 7x7 stages) splits the output channels into `oblocks` instead of the rows: thin row tiles
// would make every thread pack the whole weight matrix for a GEMM of a few dozen columns.
// The geometry never depends on the thread count: OpenBLAS rounds a GEMM of a few columns differently
// from a wide one, so tiles cut by thread count gave other bits on 1 and 2 threads (docs/determinism.md).
CpuTiles cpu_tiles(const ConvProblem& pb, size_t elem, int64_t min_rows, bool split_o) {
  const ConvGeom& g = pb.g;
  int64_t kb = std::max<int64_t>(1, pb.cpu_tile_kb);
  const int slots = kTileSlots;
  int64_t row_bytes = std::max<int64_t>(1, g.col_rows() * g.Wo * int64_t(elem));
  int64_t rows = std::max<int64_t>(1, std::min<int64_t>(g.Ho, kb * 1024 / row_bytes)), oblocks = 1;
  int64_t row_tiles = pb.N * ((g.Ho + rows - 1) / rows);
  if (row_tiles < slots && split_o && pb.groups == 1 && pb.O >= 32 * slots) {
    oblocks = (slots + row_tiles - 1) / row_tiles;
  } else if (row_tiles < slots) {
    int64_t per_slot = (pb.N * g.Ho + slots - 1) / slots;  // rows if the images split evenly
    rows = std::max<int64_t>(1, std::min(rows, per_slot));
  }
  rows = std::min(g.Ho, std::max(rows, min_rows));
  // Balance: round the tile count up to a multiple of the slots (28 rows -> 14 + 14, not 15 + 13).
  int64_t per_image = (g.Ho + rows - 1) / rows;
  if (oblocks == 1) {
    while (per_image < g.Ho && (pb.N * per_image) % slots != 0) ++per_image;
    int64_t balanced = (g.Ho + per_image - 1) / per_image;
    if (balanced >= min_rows) rows = balanced;
  }
  CpuTiles t{std::max(1, omp_get_max_threads()), rows, (g.Ho + rows - 1) / rows, oblocks, 0};
  t.ntiles = pb.N * t.per_image * oblocks;
  if (t.ntiles < t.threads) t.threads = int(std::max<int64_t>(1, t.ntiles));
  return t;
}

ForwardTile forward_tile(const ConvProblem& pb, const CpuTiles& tl, int64_t t) {
  const int64_t ob = tl.oblocks, Og = pb.O / pb.groups;
  const int64_t oblock = ob == 1 ? Og : (pb.O + ob - 1) / ob;  // output channels per tile (G == 1 when ob > 1)
  ForwardTile f;
  int64_t rt = t / ob, M = std::min(oblock, pb.O - (t % ob) * oblock);
  f.o0 = (t % ob) * oblock;
  f.n = rt / tl.per_image, f.oh0 = (rt % tl.per_image) * tl.rows;
  f.R = std::min(tl.rows, pb.g.Ho - f.oh0), f.cols = f.R * pb.g.Wo;
  f.channels = ob == 1 ? pb.O : M, f.gemm_m = ob == 1 ? Og : M;
  f.empty = M <= 0;
  return f;
}

namespace {

// Fills the column tile of output rows [oh0, oh0 + R) of image xn into c (row stride R*Wo), serially.
template <class T>
void im2col_tile(const ConvGeom& g, const T* xn, T* c, int64_t oh0, int64_t R) {
  im2col_tile_cpu(Im2colBody<T>{g, xn, c, g.Wo, oh0, R, R * g.Wo});
}

// CPU forward in tiles of whole output rows: each OpenMP thread fills its own column tile with the
// shared Im2colBody (im2col_tile_cpu, serially) and multiplies it with single-threaded BLAS
// straight into y, the bias pre-filled (beta = 1). No hand-off between the OpenMP and the BLAS thread
// pools per image, and the tile is still in cache when the GEMM packs it.
template <class T>
void forward_cpu_t(const ConvProblem& pb, const Tensor& x, const Tensor& w, const T* bias, Tensor& y) {
  const ConvGeom& g = pb.g;
  int64_t G = pb.groups, Og = pb.O / G, K = g.col_rows(), Kg = K / G, L = g.col_cols();
  CpuTiles tl = cpu_tiles(pb, sizeof(T), 1, true);
  bool pointwise = g.is_pointwise();
  Tensor cols;
  if (!pointwise) cols = Tensor::empty({tl.threads, K * tl.rows * g.Wo}, dtype_of<T>::value, x.device());
  const T *xp = x.data<T>(), *wp = w.data<T>();
  T* yp = y.data<T>();
  T* colp = pointwise ? nullptr : cols.data<T>();
#pragma omp parallel for schedule(dynamic, 1) num_threads(tl.threads)
  for (int64_t t = 0; t < tl.ntiles; ++t) {
    const ForwardTile ft = forward_tile(pb, tl, t);
    if (ft.empty) continue;
    const T* xn = xp + ft.n * g.C * g.H * g.W;
    const T* b = xn + ft.oh0 * g.Wo;
    int64_t ldb = L;
    if (!pointwise) {
      T* c = colp + omp_get_thread_num() * K * tl.rows * g.Wo;
      im2col_tile(g, xn, c, ft.oh0, ft.R);
      b = c, ldb = ft.cols;
    }
    T* yt = yp + (ft.n * pb.O + ft.o0) * L + ft.oh0 * g.Wo;
    if (bias) prefill_bias(yt, bias, ft, L);
    blas::gemm_batched<T>(x.device(), false, false, ft.gemm_m, ft.cols, Kg, T(1), wp + ft.o0 * Kg, Kg, Og * Kg, b,
                          ldb, Kg * ldb, T(bias ? 1 : 0), yt, L, Og * L, G);
  }
}

// CPU backward in the same tiles; gx and/or gw (the undefined one is skipped). Weight gradient: tile t
// adds gy_tile @ col_tile^T into partial t % S (S = min(kTileSlots, tiles)), each partial in tile
// order on one thread, and the partials are summed in slot order: the same bits on any thread count.
// Input gradient: gcol_tile = W^T @ gy_tile scattered into gx (zeroed first) by Col2imTileAdd; tiles of
// even and odd index within an image run in two phases, and a tile is at least (kh-1)*dh/sh rows tall,
// so tiles running at once never share input rows (no atomics). In a partition geometry (stride =
// kernel: each gx entry gets one col entry) the tiles write gx + `gx_bias` (may be null) directly,
// without zeroing it first: the transposed conv's forward with its bias in one pass. Returns whether
// gx_bias was added (otherwise the caller adds it).
template <class T>
bool backward_cpu_t(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& gy, Tensor& gx,
                    Tensor& gw, const T* gx_bias) {
  const ConvGeom& g = pb.g;
  int64_t G = pb.groups, Og = pb.O / G, K = g.col_rows(), Kg = K / G, L = g.col_cols();
  bool want_x = gx.defined(), want_w = gw.defined(), pointwise = g.is_pointwise();
  const bool assign = want_x && !pointwise && g.is_partition();
  CpuTiles tl = cpu_tiles(pb, sizeof(T), want_x ? std::max<int64_t>(1, (g.kh - 1) * g.dh / g.sh) : 1, false);
  int64_t rows = tl.rows, per_image = tl.per_image, tile = K * rows * g.Wo, wsize = pb.O * Kg;
  const int64_t slots = std::max<int64_t>(1, std::min<int64_t>(kTileSlots, tl.ntiles));
  const int threads = int(std::min<int64_t>(tl.threads, slots));
  Device d = gy.device();
  Tensor bufs, parts;
  if (!pointwise) bufs = Tensor::empty({threads, tile}, dtype_of<T>::value, d);
  if (want_w && slots > 1) parts = Tensor::empty({slots, wsize}, dtype_of<T>::value, d);
  if (want_x && !pointwise && !assign) gx.zero_();
  std::vector<char> used(size_t(slots), 0);
  const T *xp = want_w ? x.data<T>() : nullptr, *wp = want_x ? w.data<T>() : nullptr, *gyp = gy.data<T>();
  T* gxp = want_x ? gx.data<T>() : nullptr;
  int phases = want_x && !pointwise && per_image > 1 ? 2 : 1;
#pragma omp parallel num_threads(threads)
  {
    T* buf = pointwise ? nullptr : bufs.data<T>() + omp_get_thread_num() * tile;
    for (int phase = 0; phase < phases; ++phase) {
#pragma omp for schedule(dynamic, 1)
      for (int64_t s = 0; s < slots; ++s) {
        T* part = !want_w ? nullptr : slots > 1 ? parts.data<T>() + s * wsize : gw.data<T>();
        for (int64_t t = s; t < tl.ntiles; t += slots) {
          if (phases == 2 && (t % per_image) % 2 != phase) continue;
          int64_t n = t / per_image, oh0 = (t % per_image) * rows, R = std::min(rows, g.Ho - oh0), cols_n = R * g.Wo;
          const T* gyt = gyp + n * pb.O * L + oh0 * g.Wo;
          if (want_w) {
            const T* xn = xp + n * g.C * g.H * g.W;
            const T* b = xn + oh0 * g.Wo;
            int64_t ldb = L;
            if (!pointwise) im2col_tile(g, xn, buf, oh0, R), b = buf, ldb = cols_n;
            blas::gemm_batched<T>(d, false, true, Og, Kg, cols_n, T(1), gyt, L, Og * L, b, ldb, Kg * ldb,
                                  T(used[size_t(s)] ? 1 : 0), part, Kg, Og * Kg, G);
            used[size_t(s)] = 1;
          }
          if (want_x) {
            T* gxn = gxp + n * g.C * g.H * g.W;
            T* c = pointwise ? gxn + oh0 * g.Wo : buf;
            int64_t ldc = pointwise ? L : cols_n;
            blas::gemm_batched<T>(d, true, false, Kg, cols_n, Og, T(1), wp, Kg, Og * Kg, gyt, L, Og * L, T(0), c, ldc,
                                  Kg * ldc, G);
            if (pointwise) continue;
            Col2imTileAdd<T>{g, buf, gxn, oh0, R, cols_n, assign, gx_bias}.run();
          }
        }
      }
    }
  }
  if (!want_w) return assign;
  if (slots == 1) {
    if (!used[0]) gw.zero_();
    return assign;
  }
  T* gwp = gw.data<T>();
  const T* pp = parts.data<T>();
  std::vector<int64_t> live;
  for (int64_t s = 0; s < slots; ++s)
    if (used[size_t(s)]) live.push_back(s);
  int64_t nlive = int64_t(live.size());
  const int64_t* lp = live.data();
#pragma omp parallel for schedule(static) num_threads(threads) if (wsize >= kParallelGrain)
  for (int64_t i = 0; i < wsize; ++i) {
    T acc = T(0);
    for (int64_t k = 0; k < nlive; ++k) acc += pp[lp[k] * wsize + i];
    gwp[i] = acc;
  }
  return assign;
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

// Forward with the bias added: fused into the tiled GEMM on CPU (`tiled`), a separate pass otherwise.
static Tensor forward_with_bias(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias,
                                bool cudnn, bool tiled) {
  Tensor y = Tensor::empty({pb.N, pb.O, pb.g.Ho, pb.g.Wo}, x.dtype(), x.device());
  if (tiled) {
    forward_cpu_into(pb, x, w, bias, y);
    return y;
  }
#if VPS_CUDNN
  if (cudnn && pb.N > 0) cudnn_forward(pb, x, w, y);
  if (!(cudnn && pb.N > 0))
#endif
    VPS_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] { forward_t<scalar_t>(pb, x, w, y); });
  if (bias.defined()) add_bias(y, bias);
  return y;
}

void forward_cpu_into(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y) {
  if (winograd_applies(pb, x.dtype())) {
    forward_winograd(pb, x, w, bias, y);
    return;
  }
  if (input_layer_kernel_applies(pb, x.dtype())) {
    forward_input_layer_kernel(pb, x, w, bias, y);
    return;
  }
  if (dnnl_input_layer_applies(pb, x.dtype())) {
    forward_dnnl_input_layer(pb, x, w, bias, y);
    return;
  }
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  VPS_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] {
    forward_cpu_t<scalar_t>(pb, x, w, b.defined() ? b.data<scalar_t>() : nullptr, y);
  });
}

Tensor forward(const ConvProblem& pb, const Tensor& x, const Tensor& w, bool cudnn) {
  return forward_with_bias(pb, x, w, Tensor(), cudnn, x.device().is_cpu());
}

// Both CPU backward passes in one tiled sweep; an undefined gx or gw is skipped. A defined gx_bias (C)
// is added to gx (in the sweep where the geometry allows it).
// Large weights take the passes of conv2d_cpu.cpp, the rest the tiled sweep.
static void backward_cpu(const ConvProblem& pb, const Tensor& x, const Tensor& w, const Tensor& gy, Tensor& gx,
                         Tensor& gw, const Tensor& gx_bias = Tensor()) {
  Tensor b = gx_bias.defined() ? gx_bias.contiguous() : gx_bias;
  Tensor sweep_gx = gx, sweep_gw = gw;
  if (gw.defined() && weight_grad_large(pb, x, gy, gw)) sweep_gw = Tensor();
  if (gx.defined() && input_grad_large(pb, gy, w, b, gx)) sweep_gx = Tensor(), b = Tensor();
  if (!sweep_gx.defined() && !sweep_gw.defined()) return;
  bool added = false;
  VPS_DISPATCH_FLOAT(gy.dtype(), "conv2d backward", [&] {
    added = backward_cpu_t<scalar_t>(pb, x, w, gy, sweep_gx, sweep_gw, b.defined() ? b.data<scalar_t>() : nullptr);
  });
  if (b.defined() && !added) add_bias(gx, b);
}

static Tensor empty_gx(const ConvProblem& pb, const Tensor& gy) {
  return Tensor::empty({pb.N, pb.g.C, pb.g.H, pb.g.W}, gy.dtype(), gy.device());
}
static Tensor empty_gw(const ConvProblem& pb, const Tensor& x) {
  return Tensor::empty({pb.O, pb.g.C / pb.groups, pb.g.kh, pb.g.kw}, x.dtype(), x.device());
}

// The whole-image passes (the CUDA build's im2col path) on any device.
static Tensor backward_input_reference(const ConvProblem& pb, const Tensor& gy, const Tensor& w) {
  Tensor gx = empty_gx(pb, gy);
  VPS_DISPATCH_FLOAT(gy.dtype(), "conv2d backward", [&] { backward_input_t<scalar_t>(pb, gy, w, gx); });
  return gx;
}
static Tensor backward_weight_reference(const ConvProblem& pb, const Tensor& x, const Tensor& gy) {
  Tensor gw = empty_gw(pb, x);
  VPS_DISPATCH_FLOAT(x.dtype(), "conv2d backward", [&] { backward_weight_t<scalar_t>(pb, x, gy, gw); });
  return gw;
}

Tensor backward_input(const ConvProblem& pb, const Tensor& gy, const Tensor& w, bool cudnn, const Tensor& bias) {
  Tensor gx = empty_gx(pb, gy), none;
  if (gy.device().is_cpu()) {
    backward_cpu(pb, Tensor(), w, gy, gx, none, bias);
    return gx;
  }
#if VPS_CUDNN
  if (cudnn && pb.N > 0) cudnn_backward_input(pb, gy, w, gx);
  else
#endif
    gx = backward_input_reference(pb, gy, w);
  if (bias.defined()) add_bias(gx, bias);
  return gx;
}

Tensor backward_weight(const ConvProblem& pb, const Tensor& x, const Tensor& gy, bool cudnn) {
  Tensor gw = empty_gw(pb, x), none;
  if (x.device().is_cpu()) {
    backward_cpu(pb, x, Tensor(), gy, none, gw);
    return gw;
  }
#if VPS_CUDNN
  if (cudnn && pb.N > 0) {
    cudnn_backward_weight(pb, x, gy, gw);
    return gw;
  }
#endif
  return backward_weight_reference(pb, x, gy);
}

void add_bias(Tensor& y, const Tensor& bias) {
  Tensor b = bias.contiguous();
  int64_t O = y.size(1), L = y.numel() / std::max<int64_t>(1, y.size(0) * O);
  VPS_DISPATCH_FLOAT(y.dtype(), "conv bias", [&] {
    if (y.device().is_cuda())
      parallel_for(y.device(), y.numel(), AddBiasBody<scalar_t>{b.data<scalar_t>(), y.data<scalar_t>(), O, L});
    else
      parallel_for(y.device(), y.size(0) * O, AddBiasRowsBody<scalar_t>{b.data<scalar_t>(), y.data<scalar_t>(), O, L}, L);
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
  bool tiled = false;  // CPU tiled path; false on CPU: the whole-image reference passes
  std::vector<Tensor> backward(const std::vector<Tensor>& grads) override {
    Tensor gy = grads[0].contiguous();
    std::vector<Tensor> out(next.size());
    bool want_x = next[0].valid(), want_w = next[1].valid();
    if (tiled) {
      Tensor gx = want_x ? empty_gx(pb, gy) : Tensor(), gw = want_w ? empty_gw(pb, gy) : Tensor();
      backward_cpu(pb, want_w ? x.get(name()) : Tensor(), want_x ? w.get(name()) : Tensor(), gy, gx, gw);
      out[0] = gx, out[1] = gw;
    } else if (gy.device().is_cpu()) {
      if (want_x) out[0] = backward_input_reference(pb, gy, w.get(name()));
      if (want_w) out[1] = backward_weight_reference(pb, x.get(name()), gy);
    } else {
      if (want_x) out[0] = backward_input(pb, gy, w.get(name()), cudnn);
      if (want_w) out[1] = backward_weight(pb, x.get(name()), gy, cudnn);
    }
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
  p.stride = stride, p.padding = padding, p.dilation = dilation, p.groups = groups, p.algo = algo;
  return conv2d(x, w, bias, p);
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvParams& p) {
  const ConvAlgo algo = p.algo;
  ConvProblem pb = make_conv_problem("conv2d", x, w, bias, p);
  if (p.precision == MatmulPrecision::bf16) return conv2d(x, w, bias, p, ConvEpilogue());  // conv2d_epilogue.cpp
  bool cudnn = use_cudnn(algo, x.device());
  Tensor xc = x.contiguous(), wc = w.contiguous();
  // CPU: the tiled path unless ConvAlgo::im2col asks for the whole-image reference path (the bodies
  // the CUDA build runs), which the tests compare it with.
  bool tiled = x.device().is_cpu() && algo != ConvAlgo::im2col;
  Tensor y = forward_with_bias(pb, xc, wc, bias, cudnn, tiled);
  std::vector<Tensor> inputs = {x, w};
  if (bias.defined()) inputs.push_back(bias);
  if (autograd::needs_grad(inputs)) {
    auto node = std::make_shared<Conv2dBackward>();
    node->pb = pb;
    node->cudnn = cudnn;
    node->tiled = tiled;
    node->x = xc.detach();
    node->w = wc.detach();
    autograd::record(node, inputs, {y});
  }
  return y;
}

}  // namespace vps
