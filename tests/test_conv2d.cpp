#include <gtest/gtest.h>
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "layers/conv2d.h"
#include "ops/ops.h"
#include "tests/conv_reference.h"
#include "tests/error_of.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::rnd;

using vps::testing::error_of;
using vps::testing::naive_conv2d;

namespace {

// A float32 conv through `tiled` (the CPU default path) and through the whole-image direct path: both
// outputs within out_tol of the float64 result, and the gradients of x and w (each path's backward)
// within grad_tol (w: 10 x grad_tol relative) of each other.
void expect_conv_close_to_direct(const Tensor& x, const Tensor& w, const Tensor& b, const ConvParams& tiled,
                                 double out_tol, double grad_tol) {
  ConvParams p = tiled;
  p.algo = ConvAlgo::im2col;
  Tensor got = conv2d(x, w, b, tiled), want = conv2d(x, w, b, p);
  Tensor exact = conv2d(x.to(DType::f64), w.to(DType::f64), b.defined() ? b.to(DType::f64) : Tensor(), p);
  EXPECT_ALLCLOSE(got.to(DType::f64), exact, out_tol, out_tol);
  EXPECT_ALLCLOSE(want.to(DType::f64), exact, out_tol, out_tol);
  Tensor gy = rnd(got.shape(), 24, -1, 1, DType::f32);
  Tensor xg = x.detach().set_requires_grad(), wg = w.detach().set_requires_grad();
  conv2d(xg, wg, b, tiled).backward(gy);
  Tensor xr = x.detach().set_requires_grad(), wr = w.detach().set_requires_grad();
  conv2d(xr, wr, b, p).backward(gy);
  EXPECT_ALLCLOSE(xg.grad(), xr.grad(), grad_tol, grad_tol);
  EXPECT_ALLCLOSE(wg.grad(), wr.grad(), 10 * grad_tol, grad_tol);
}

}  // namespace

TEST(Conv2d, ForwardMatchesNaive) {
  struct Case { Shape x, w; Pair s, p, d; int64_t g; };
  std::vector<Case> cases = {{{2, 3, 6, 5}, {4, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
                             {{1, 4, 7, 8}, {6, 2, 3, 2}, {2, 1}, {0, 2}, {1, 2}, 2},
                             {{2, 4, 5, 5}, {4, 1, 3, 3}, {1, 2}, {2, 1}, {2, 1}, 4},
                             {{2, 6, 4, 3}, {4, 3, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 2}};
  for (auto& c : cases) {
    Tensor x = rnd(c.x, 1), w = rnd(c.w, 2), b = rnd({c.w[0]}, 3);
    Tensor y = conv2d(x, w, b, c.s, c.p, c.d, c.g);
    EXPECT_ALLCLOSE(y, naive_conv2d(x, w, b, c.s, c.p, c.d, c.g), 1e-12, 1e-12);
    Tensor y32 = conv2d(x.to(DType::f32), w.to(DType::f32), Tensor(), c.s, c.p, c.d, c.g);
    EXPECT_ALLCLOSE(y32, naive_conv2d(x, w, Tensor(), c.s, c.p, c.d, c.g), 1e-5, 1e-5);
  }
}

TEST(Conv2d, NonContiguousInput) {
  Tensor base = rnd({2, 5, 6, 3}, 4);                  // NHWC storage
  Tensor x = base.permute({0, 3, 1, 2}).slice(3, 0, 5, 2);  // (2, 3, 5, 3), strided
  ASSERT_FALSE(x.is_contiguous());
  Tensor w = rnd({4, 3, 2, 2}, 5).transpose(2, 3);
  Tensor y = conv2d(x, w, Tensor(), {1, 1}, {1, 0});
  EXPECT_ALLCLOSE(y, naive_conv2d(x, w, Tensor(), {1, 1}, {1, 0}, {1, 1}, 1), 1e-12, 1e-12);
}

TEST(Conv2d, Gradcheck) {
  Tensor x = rnd({2, 4, 5, 4}, 6).set_requires_grad();
  Tensor w = rnd({6, 2, 3, 2}, 7).set_requires_grad();
  Tensor b = rnd({6}, 8).set_requires_grad();
  vps::testing::gradcheck(
      [](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], {2, 1}, {1, 1}, {1, 2}, 2); }, {x, w, b});
  Tensor x1 = rnd({1, 3, 4, 4}, 9).set_requires_grad();
  Tensor w1 = rnd({2, 3, 1, 1}, 10).set_requires_grad();
  vps::testing::gradcheck([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1]); }, {x1, w1});
}

// conv2d with an inference epilogue (layers/conv2d_epilogue.cpp) outside bf16 is the composition
// act(scale * conv + bias + residual): its float64 gradient to every input (ReLU's kinks are skipped by
// the checker), strided and grouped.
TEST(Conv2d, EpilogueGradcheck) {
  Tensor x = rnd({2, 4, 5, 4}, 31).set_requires_grad(), w = rnd({6, 2, 3, 2}, 32).set_requires_grad();
  Tensor b = rnd({6}, 33).set_requires_grad(), s = rnd({6}, 34).set_requires_grad();
  Tensor r = rnd({2, 6, 3, 4}, 35).set_requires_grad();
  ConvParams p;
  p.stride = {2, 1}, p.padding = {1, 1}, p.dilation = {1, 2}, p.groups = 2;
  vps::testing::gradcheck(
      [p](const std::vector<Tensor>& v) {
        ConvEpilogue e;
        e.scale = v[3], e.residual = v[4], e.relu = true;
        return conv2d(v[0], v[1], v[2], p, e);
      },
      {x, w, b, s, r});
}

TEST(Conv2d, EpilogueParityCpuCuda) {
  VPS_REQUIRE_CUDA();
  Tensor x = rnd({2, 4, 9, 8}, 36, -1, 1, DType::f32), w = rnd({6, 4, 3, 3}, 37, -1, 1, DType::f32);
  Tensor b = rnd({6}, 38, -1, 1, DType::f32), s = rnd({6}, 39, -1, 1, DType::f32);
  Tensor r = rnd({2, 6, 9, 8}, 40, -1, 1, DType::f32);
  vps::testing::ParityOptions loose;  // cuDNN may pick Winograd/FFT algorithms (float32 rounding differs)
  loose.atol = 1e-4, loose.rtol = 1e-3;
  vps::testing::check_parity(
      [](const std::vector<Tensor>& v) {
        ConvParams p;
        p.padding = {1, 1};
        ConvEpilogue e;
        e.scale = v[3], e.residual = v[4], e.relu = true;
        return conv2d(v[0], v[1], v[2], p, e);
      },
      {x, w, b, s, r}, loose);
}

TEST(Conv2d, GoldenFixtureTorch) {
  auto read_npy_f64 = [](const std::string& rel) { return vps::testing::read_npy_fixture("tests/fixtures/" + rel).to(vps::DType::f64); };
  std::string c = "conv/conv2d_groups_dilation_";
  Tensor x = read_npy_f64(c + "x.npy").set_requires_grad(), w = read_npy_f64(c + "w.npy").set_requires_grad();
  Tensor b = read_npy_f64(c + "b.npy").set_requires_grad();
  Tensor y = conv2d(x, w, b, {1, 2}, {1, 2}, {2, 1}, 2);
  EXPECT_ALLCLOSE(y, read_npy_f64(c + "y.npy"), 1e-10, 0);
  y.backward(read_npy_f64(c + "gy.npy"));
  EXPECT_ALLCLOSE(x.grad(), read_npy_f64(c + "gx.npy"), 1e-10, 0);
  EXPECT_ALLCLOSE(w.grad(), read_npy_f64(c + "gw.npy"), 1e-10, 0);
  EXPECT_ALLCLOSE(b.grad(), read_npy_f64(c + "gb.npy"), 1e-10, 0);
}

TEST(Conv2d, BadInput) {
  Tensor x = rnd({1, 4, 5, 5}, 1), w = rnd({2, 3, 3, 3}, 2);
  std::string m = error_of([&] { conv2d(x, w); });
  EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
  EXPECT_NE(m.find("channel mismatch"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 4, 5, 5]"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 3, 3]"), std::string::npos) << m;
  m = error_of([&] { conv2d(rnd({1, 3, 5, 5}, 1), rnd({2, 1, 3, 3}, 2), Tensor(), {1, 1}, {0, 0}, {1, 1}, 3); });
  EXPECT_NE(m.find("groups=3"), std::string::npos) << m;
  m = error_of([&] { conv2d(x, rnd({2, 4, 3, 3}, 2).to(DType::f32)); });
  EXPECT_NE(m.find("dtype mismatch"), std::string::npos) << m;
  EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
  m = error_of([&] { conv2d(x, rnd({2, 4, 7, 7}, 2)); });
  EXPECT_NE(m.find("larger than padded input"), std::string::npos) << m;
  m = error_of([&] { conv2d(x, rnd({2, 4, 3, 3}, 2), rnd({3}, 3)); });
  EXPECT_NE(m.find("bias"), std::string::npos) << m;
}

TEST(Conv2d, ParityCpuCuda) {
  VPS_REQUIRE_CUDA();
  Tensor x = rnd({2, 4, 9, 8}, 11, -1, 1, DType::f32), w = rnd({6, 2, 3, 3}, 12, -1, 1, DType::f32);
  Tensor b = rnd({6}, 13, -1, 1, DType::f32);
  vps::testing::ParityOptions loose;  // cuDNN may pick Winograd/FFT algorithms (float32 rounding differs)
  loose.atol = 1e-4, loose.rtol = 1e-3;
  for (ConvAlgo a : {ConvAlgo::automatic, ConvAlgo::im2col})
    vps::testing::check_parity(
        [a](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], {2, 1}, {1, 1}, {1, 2}, 2, a); },
        {x, w, b}, loose);
  // an input layer (the stem's shape class: the CPU takes layers/conv2d_input_layer.cpp or oneDNN's)
  Tensor xs = rnd({1, 3, 20, 23}, 14, -1, 1, DType::f32), ws = rnd({32, 3, 7, 7}, 15, -1, 1, DType::f32);
  Tensor bs = rnd({32}, 16, -1, 1, DType::f32);
  vps::testing::check_parity(
      [](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], {2, 2}, {3, 3}); }, {xs, ws, bs}, loose);
}

// The cuDNN path (layers/conv2d_cudnn.cpp) against the im2col + cuBLAS reference; needs a GPU.
TEST(Conv2d, ParityCudnnVsIm2col) {
  VPS_REQUIRE_CUDA();
#if !VPS_CUDNN
  GTEST_SKIP() << "built without cuDNN: cuDNN-vs-im2col parity skipped";
#else
  Device d = cuda_device();
  for (int64_t groups : {1, 2}) {
    Tensor x = rnd({2, 4, 10, 9}, 21, -1, 1, DType::f32).to(d).set_requires_grad();
    Tensor w = rnd({6, 4 / groups, 3, 2}, 22, -1, 1, DType::f32).to(d).set_requires_grad();
    Tensor b = rnd({6}, 23, -1, 1, DType::f32).to(d).set_requires_grad();
    Tensor gy;
    std::vector<Tensor> res[2];
    ConvAlgo algos[2] = {ConvAlgo::cudnn, ConvAlgo::im2col};
    for (int k = 0; k < 2; ++k) {
      x.zero_grad(), w.zero_grad(), b.zero_grad();
      Tensor y = conv2d(x, w, b, {1, 2}, {1, 0}, {2, 1}, groups, algos[k]);
      if (!gy.defined()) gy = rnd(y.shape(), 24, -1, 1, DType::f32).to(d);
      y.backward(gy);
      res[k] = {y.detach(), x.grad(), w.grad(), b.grad()};
    }
    for (int i = 0; i < 4; ++i) EXPECT_ALLCLOSE(res[0][i], res[1][i], 1e-4, 1e-3);
  }
#endif
}

// The CPU tiled path (default) against the whole-image im2col path the CUDA build runs
// (ConvAlgo::im2col) and the naive loop, with tiles of one output row (cpu_tile_kb = 1) and default
// tiles (cases with O >= 32 x 8 slots split the output channels; the last ones take the large-weight
// backward of layers/conv2d_cpu.cpp); forward, and the gradients of x, w, b.
TEST(Conv2d, CpuTilesMatchReferencePath) {
  struct Case { Shape x, w; Pair s, p, d; int64_t g; };
  std::vector<Case> cases = {{{3, 3, 9, 8}, {4, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
                             {{2, 3, 11, 10}, {5, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, 1},
                             {{1, 4, 7, 8}, {6, 2, 3, 2}, {2, 1}, {0, 2}, {1, 2}, 2},
                             {{3, 6, 5, 4}, {4, 6, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1},
                             {{2, 6, 5, 6}, {4, 3, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 2},
                             {{2, 4, 9, 9}, {4, 1, 3, 3}, {2, 2}, {2, 2}, {2, 2}, 4},
                             {{1, 3, 5, 5}, {260, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},   // forward splits O
                             {{1, 40, 3, 3}, {258, 40, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1},   // (O >= 256)
                             {{2, 260, 3, 4}, {257, 260, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1},   // gw by O blocks
                             // weights >= kLargeConvWeight: gw by input-channel blocks, gx as a forward
                             {{2, 32, 6, 7}, {260, 32, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
                             {{1, 32, 9, 8}, {260, 32, 3, 3}, {1, 1}, {2, 1}, {2, 1}, 1},  // dilated
                             {{1, 36, 9, 9}, {260, 36, 3, 3}, {2, 2}, {1, 1}, {1, 1}, 1},  // strided: gx tiled
                             {{1, 32, 5, 5}, {260, 32, 3, 3}, {1, 1}, {3, 0}, {1, 1}, 1}};  // pad > d(k-1)
  int threads_before = omp_get_max_threads();
  omp_set_num_threads(2);
  for (int64_t kb : {int64_t(1), ConvParams{}.cpu_tile_kb}) {
    for (auto& c : cases) {
      SCOPED_TRACE(::testing::Message() << "tile kb '" << kb << "' x " << shape_str(c.x) << " w " << shape_str(c.w));
      Tensor x = rnd(c.x, 11), w = rnd(c.w, 12), b = rnd({c.w[0]}, 13);
      Tensor gy = rnd(naive_conv2d(x, w, b, c.s, c.p, c.d, c.g).shape(), 14);
      std::vector<Tensor> got, want;
      for (ConvAlgo algo : {ConvAlgo::automatic, ConvAlgo::im2col}) {
        Tensor xg = x.detach().set_requires_grad(), wg = w.detach().set_requires_grad(),
               bg = b.detach().set_requires_grad();
        ConvParams p;
        p.stride = c.s, p.padding = c.p, p.dilation = c.d, p.groups = c.g, p.algo = algo, p.cpu_tile_kb = kb;
        Tensor y = conv2d(xg, wg, bg, p);
        y.backward(gy);
        (algo == ConvAlgo::automatic ? got : want) = {y.detach(), xg.grad(), wg.grad(), bg.grad()};
      }
      EXPECT_ALLCLOSE(got[0], naive_conv2d(x, w, b, c.s, c.p, c.d, c.g), 1e-12, 1e-12);
      for (size_t i = 0; i < got.size(); ++i) EXPECT_ALLCLOSE(got[i], want[i], 1e-12, 1e-12);
    }
  }
  omp_set_num_threads(threads_before);
}

// Winograd's F(2x2, 3x3) (layers/conv2d_winograd.cpp: the float32 forward of 3x3 stride-1 convs with
// large weights, and through it their input gradient) against the whole-image direct path: odd and even
// map sizes (partial edge tiles), paddings 0-2, a batch, with and without bias; the error stays of the
// direct float32 sum's order.
TEST(Conv2d, WinogradMatchesDirectPath) {
  struct Case { Shape x, w; int64_t pad; bool bias; };
  std::vector<Case> cases = {{{2, 64, 23, 25}, {128, 64, 3, 3}, 1, true},
                             {{1, 64, 34, 36}, {120, 64, 3, 3}, 0, false},
                             {{3, 80, 19, 13}, {96, 80, 3, 3}, 2, true}};
  int threads_before = omp_get_max_threads();
  omp_set_num_threads(2);
  for (auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "x " << shape_str(c.x) << " w " << shape_str(c.w) << " pad " << c.pad);
    Tensor x = rnd(c.x, 21, -1, 1, DType::f32), w = rnd(c.w, 22, -1, 1, DType::f32);
    Tensor b = c.bias ? rnd({c.w[0]}, 23, -1, 1, DType::f32) : Tensor();
    ConvParams tiled;
    tiled.padding = {c.pad, c.pad};
    ASSERT_TRUE(conv_detail::winograd_applies(conv_detail::make_conv_problem("test", x, w, b, tiled), DType::f32));
    // both float32 results within the same bound of float64 (sums of 576-720 products of ~0.25); the
    // large-weight input gradient is a forward conv, so it takes Winograd too
    expect_conv_close_to_direct(x, w, b, tiled, 2e-5, 1e-4);
  }
  omp_set_num_threads(threads_before);
}

// Input layers (at most 4 channels, outputs in blocks of 16: ResNet's stem): our AVX-512 kernel
// (layers/conv2d_input_layer.cpp) and oneDNN's convolution (layers/conv2d_dnnl.cpp), each called where
// it applies, against float64; conv2d (whichever it takes) against the whole-image direct path with
// the gradients, which stay ours. The shapes cover one and two 16-channel vectors per tile (16, 48,
// 64 outputs), rows narrower than a tile (14 columns), partial 16-column blocks, strides, dilation,
// padding wider than the kernel's reach, a batch, with and without bias.
TEST(Conv2d, InputLayerKernelsMatchDirectPath) {
  struct Case { Shape x, w; Pair stride, pad, dil; bool bias; };
  std::vector<Case> cases = {{{2, 3, 37, 41}, {64, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, true},
                             {{1, 1, 20, 17}, {32, 1, 3, 3}, {1, 1}, {2, 2}, {2, 2}, false},
                             {{1, 4, 9, 12}, {16, 4, 5, 3}, {1, 1}, {0, 0}, {1, 1}, true},
                             {{1, 2, 6, 40}, {48, 2, 3, 3}, {1, 2}, {1, 4}, {1, 1}, true},
                             {{3, 3, 5, 3}, {16, 3, 1, 1}, {1, 1}, {0, 0}, {1, 1}, false}};
  int ran_kernel = 0;
  for (auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "x " << shape_str(c.x) << " w " << shape_str(c.w));
    Tensor x = rnd(c.x, 31, -1, 1, DType::f32), w = rnd(c.w, 32, -1, 1, DType::f32);
    Tensor b = c.bias ? rnd({c.w[0]}, 33, -1, 1, DType::f32) : Tensor();
    ConvParams tiled;
    tiled.stride = c.stride, tiled.padding = c.pad, tiled.dilation = c.dil;
    const auto pb = conv_detail::make_conv_problem("test", x, w, b, tiled);
    ConvParams direct = tiled;
    direct.algo = ConvAlgo::im2col;
    Tensor exact = conv2d(x.to(DType::f64), w.to(DType::f64), b.defined() ? b.to(DType::f64) : Tensor(), direct);
    auto run = [&](auto forward, int threads) {
      const int before = omp_get_max_threads();
      omp_set_num_threads(threads);
      Tensor y = Tensor::empty(exact.shape(), DType::f32);
      forward(pb, x, w, b, y);
      omp_set_num_threads(before);
      return y;
    };
    if (conv_detail::input_layer_kernel_applies(pb, DType::f32)) {
      ++ran_kernel;
      Tensor y1 = run(conv_detail::forward_input_layer_kernel, 1);
      EXPECT_ALLCLOSE(y1.to(DType::f64), exact, 1e-5, 1e-5);
      EXPECT_ALLCLOSE(run(conv_detail::forward_input_layer_kernel, 2), y1, 0, 0);  // the same bits
      EXPECT_ALLCLOSE(run(conv_detail::forward_input_layer_kernel, 3), y1, 0, 0);
    }
    EXPECT_EQ(conv_detail::dnnl_input_layer_applies(pb, DType::f32), bool(VPS_DNNL));
    if (conv_detail::dnnl_input_layer_applies(pb, DType::f32)) {
      EXPECT_ALLCLOSE(run(conv_detail::forward_dnnl_input_layer, 2).to(DType::f64), exact, 1e-5, 1e-5);
    }
    expect_conv_close_to_direct(x, w, b, tiled, 1e-5, 1e-5);
  }
  if (ran_kernel == 0) std::printf("[ note ] the AVX-512 input-layer kernel did not run: no AVX-512 on this CPU\n");
}

// No input channels: the output is the bias (the input-layer shape class would otherwise go to oneDNN,
// which refuses a zero-channel input).
TEST(Conv2d, ZeroInputChannelsGiveTheBias) {
  Tensor x = Tensor::zeros({1, 0, 5, 5}, DType::f32), w = Tensor::zeros({16, 0, 3, 3}, DType::f32);
  Tensor b = rnd({16}, 35, -1, 1, DType::f32);
  Tensor y = conv2d(x, w, b, {1, 1}, {1, 1});
  ASSERT_EQ(y.shape(), (Shape{1, 16, 5, 5}));
  EXPECT_ALLCLOSE(y, b.reshape({1, 16, 1, 1}).expand({1, 16, 5, 5}), 0, 0);
}

// An empty batch through the CPU tiles: empty output, zero weight and bias gradients.
TEST(Conv2d, CpuTilesEmptyBatch) {
  Tensor x = Tensor::zeros({0, 3, 6, 6}, DType::f64).set_requires_grad();
  Tensor w = rnd({4, 3, 3, 3}, 15).set_requires_grad(), b = rnd({4}, 16).set_requires_grad();
  Tensor y = conv2d(x, w, b, {1, 1}, {1, 1});
  ASSERT_EQ(y.shape(), (Shape{0, 4, 6, 6}));
  y.backward(Tensor::zeros({0, 4, 6, 6}, DType::f64));
  EXPECT_ALLCLOSE(w.grad(), Tensor::zeros({4, 3, 3, 3}, DType::f64), 0, 0);
  EXPECT_ALLCLOSE(b.grad(), Tensor::zeros({4}, DType::f64), 0, 0);
  EXPECT_EQ(x.grad().shape(), x.shape());
}
