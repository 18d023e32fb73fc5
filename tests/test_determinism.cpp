// Deterministic CPU kernels (docs/determinism.md): every op that sums from several places into one -- the
// GEMM (OpenBLAS rounds otherwise on another thread count), the tiled convolution and its weight gradient,
// the index/scatter adds, and the scatter backwards of RoIAlign, interpolation, resample2d and the
// deformable convolution -- gives the same bits on 1, 2 and 3 threads, and the values agree with a
// float64 reference to round-off. The whole-model proof (a few training steps of the tiny VPSNet-Track on
// 1, 2 and 3 threads, identical weights) is VpsTrain.SameWeightsOnAnyThreadCount.
#include <gtest/gtest.h>
#include <omp.h>

#include <functional>
#include <vector>

#include "layers/conv2d.h"
#include "layers/deform_conv2d.h"
#include "layers/flow_ops.h"
#include "layers/interpolate.h"
#include "layers/roi_align.h"
#include "ops/ops.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::rnd;

namespace {

Tensor rnd32(const Shape& s, uint64_t seed) { return rnd(s, seed, -1, 1, DType::f32); }

// Runs `f` on 1, 2 and 3 threads; every tensor it returns must have the same bits on each count.
std::vector<Tensor> same_on_every_thread_count(const std::function<std::vector<Tensor>()>& f) {
  int before = omp_get_max_threads();
  std::vector<Tensor> first;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    std::vector<Tensor> got = f();
    if (first.empty()) {
      first = got;
      continue;
    }
    EXPECT_EQ(got.size(), first.size());
    for (size_t i = 0; i < got.size() && i < first.size(); ++i)
      EXPECT_TRUE(got[i].to_vector<float>() == first[i].to_vector<float>())
          << "output " << i << " differs between 1 and " << threads << " threads";
  }
  omp_set_num_threads(before);
  return first;
}

// The gradients of `inputs` after y = f(inputs), y.backward(gy) with gy fixed by the output's shape.
std::vector<Tensor> grads_of(std::vector<Tensor> inputs, const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  for (auto& t : inputs) t = t.detach().set_requires_grad();
  Tensor y = f(inputs);
  y.backward(rnd32(y.shape(), 99));
  std::vector<Tensor> out = {y.detach()};
  for (auto& t : inputs) out.push_back(t.grad());
  return out;
}

}  // namespace

// GEMM shapes on both sides of the blocking threshold, transposed operands among them; (64, 64, 784) is
// the bbox head's shape on which multi-threaded OpenBLAS once gave other bits than one thread.
TEST(Determinism, GemmSameBitsOnAnyThreadCountAndCloseToFloat64) {
  struct Case { int64_t m, k, n; bool ta, tb; };
  for (Case c : {Case{64, 784, 64, false, true}, Case{300, 200, 70, false, false}, Case{17, 900, 513, true, false},
                 Case{520, 64, 33, true, true}, Case{3, 5, 7, false, false}}) {
    SCOPED_TRACE(::testing::Message() << c.m << "x" << c.k << "x" << c.n << " ta " << c.ta << " tb " << c.tb);
    Tensor a = rnd32(c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k}, 1), b = rnd32(c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n}, 2);
    auto opa = [&](const Tensor& t) { return c.ta ? transpose(t, 0, 1) : t; };
    auto opb = [&](const Tensor& t) { return c.tb ? transpose(t, 0, 1) : t; };
    auto got = same_on_every_thread_count([&] { return std::vector<Tensor>{matmul(opa(a), opb(b))}; });
    Tensor want = matmul(opa(a.to(DType::f64)), opb(b.to(DType::f64)));
    EXPECT_ALLCLOSE(got[0].to(DType::f64), want, 1e-4, 1e-4);
  }
}

// Tiles of one output row (cpu_tile_kb = 1) and default tiles; the weight gradient sums per-slot
// partials, the input gradient scatters tile by tile.
TEST(Determinism, Conv2dForwardAndBackward) {
  for (int64_t kb : {int64_t(1), ConvParams{}.cpu_tile_kb}) {
    // the last two: weights of >= kLargeConvWeight elements (gw by output- / input-channel blocks, the
    // 3x3's gx as a forward conv)
    for (Shape w : {Shape{8, 6, 3, 3}, Shape{260, 6, 1, 1}, Shape{257, 256, 1, 1}, Shape{260, 32, 3, 3}}) {
      SCOPED_TRACE(::testing::Message() << "tile kb " << kb << " weight " << shape_str(w));
      Tensor x = rnd32({2, w[1], w[1] > 6 ? 5 : 19, w[1] > 6 ? 7 : 23}, 3), wt = rnd32(w, 4);
      auto run = [&](DType dt) {
        return grads_of({x.to(dt), wt.to(dt)}, [&](const std::vector<Tensor>& in) {
          ConvParams p;
          p.padding = {w[2] / 2, w[3] / 2}, p.cpu_tile_kb = kb;
          return conv2d(in[0], in[1], Tensor(), p);
        });
      };
      auto got = same_on_every_thread_count([&] { return run(DType::f32); });
      auto want = run(DType::f64);
      for (size_t i = 0; i < got.size(); ++i) EXPECT_ALLCLOSE(got[i].to(DType::f64), want[i], 1e-4, 1e-4);
    }
  }
}

// Winograd's forward (layers/conv2d_winograd.cpp; 3x3 stride 1, a large weight, enough tiles): chunks of
// tile rows fixed by the shape.
TEST(Determinism, Conv2dWinogradForward) {
  Tensor x = rnd32({2, 64, 23, 25}, 7), w = rnd32({128, 64, 3, 3}, 8), b = rnd32({128}, 9);
  ConvParams p;
  p.padding = {1, 1};
  ASSERT_TRUE(conv_detail::winograd_applies(conv_detail::make_conv_problem("test", x, w, b, p), DType::f32));
  same_on_every_thread_count([&] { return std::vector<Tensor>{conv2d(x, w, b, p)}; });
}

// An input layer (ResNet's stem shape) through oneDNN's convolution in DNNL builds.
TEST(Determinism, Conv2dInputLayerForward) {
  Tensor x = rnd32({2, 3, 45, 38}, 10), w = rnd32({64, 3, 7, 7}, 11), b = rnd32({64}, 12);
  ConvParams p;
  p.stride = {2, 2}, p.padding = {3, 3};
  same_on_every_thread_count([&] { return std::vector<Tensor>{conv2d(x, w, b, p)}; });
}

// Repeated indices: many entries meet in one output element.
TEST(Determinism, IndexSelectAndScatterAddSumInIndexOrder) {
  Tensor a = rnd32({50, 40, 30}, 5);  // 18000 gradient entries: above the parallel grain
  Tensor idx = Tensor::from_vector<int64_t>({3, 0, 3, 3, 1, 0, 3, 2, 3, 3, 0, 1}, {12});
  auto sel = [&](DType dt) {
    return grads_of({a.to(dt)}, [&](const std::vector<Tensor>& in) { return index_select(in[0], 1, idx); });
  };
  auto got = same_on_every_thread_count([&] { return sel(DType::f32); });
  auto want = sel(DType::f64);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_ALLCLOSE(got[i].to(DType::f64), want[i], 1e-5, 1e-5);
  Tensor src = rnd32({4, 3000, 2}, 6), base = rnd32({4, 7, 2}, 7);
  std::vector<int64_t> iv(4 * 3000 * 2);
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = int64_t((i * 7919) % 7);
  Tensor sidx = Tensor::from_vector<int64_t>(iv, {4, 3000, 2});
  auto s32 = same_on_every_thread_count([&] { return std::vector<Tensor>{scatter_add(base, 1, sidx, src)}; });
  Tensor s64 = scatter_add(base.to(DType::f64), 1, sidx, src.to(DType::f64));
  EXPECT_ALLCLOSE(s32[0].to(DType::f64), s64, 1e-5, 1e-5);
}

TEST(Determinism, ScatterBackwardsOfRoIAlignInterpolateResampleDeform) {
  Tensor feat = rnd32({2, 5, 16, 20}, 8);
  Tensor rois = Tensor::from_vector<float>({0, 1, 1, 12, 9, 1, 0, 2, 19, 15, 0, 3, 3, 6, 6, 1, 4, 1, 9, 14}, {4, 5});
  same_on_every_thread_count([&] {
    return grads_of({feat}, [&](const std::vector<Tensor>& in) { return roi_align(in[0], rois, RoIAlignOptions{}); });
  });
  same_on_every_thread_count([&] {
    return grads_of({feat}, [&](const std::vector<Tensor>& in) {
      return interpolate(in[0], {37, 29}, InterpMode::bilinear, false);
    });
  });
  Tensor flow = rnd(Shape{2, 2, 16, 20}, 9, -3, 3, DType::f32);
  same_on_every_thread_count(
      [&] { return grads_of({feat, flow}, [&](const std::vector<Tensor>& in) { return resample2d(in[0], in[1]); }); });
  Tensor off = rnd(Shape{2, 18, 16, 20}, 10, -2, 2, DType::f32), w = rnd32({4, 5, 3, 3}, 11);
  same_on_every_thread_count([&] {
    return grads_of({feat, off, w}, [&](const std::vector<Tensor>& in) {
      DeformConvParams p;
      p.padding = {1, 1};
      return deform_conv2d(in[0], in[1], in[2], p);
    });
  });
}
