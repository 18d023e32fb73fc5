// cat, stack, split/chunk, index_select, gather, scatter_add, masked_fill, pad: forward against
// plain loops, float64 gradient checks, a non-contiguous input each, bad input, CPU-vs-CUDA parity.
#include <gtest/gtest.h>

#include <string>

#include "ops/ops.h"
#include "tests/expect_error.h"
#include "tests/gradcheck.h"

using namespace vps;
using vps::testing::expect_error;
using vps::testing::gradcheck;
using vps::testing::rnd;

namespace {

// Element of a CPU f64 tensor (any strides) at a multi-index.
double at(const Tensor& t, const std::vector<int64_t>& ix) {
  int64_t off = 0;
  for (size_t d = 0; d < ix.size(); ++d) off += ix[d] * t.stride(int64_t(d));
  return t.data<double>()[off];
}

Tensor idx(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector<int64_t>(v, s); }

}  // namespace

TEST(ShapeOps, CatForwardGradAndBadShapes) {
  Tensor a = rnd({2, 3}, 1), b = rnd({1, 2}, 2).transpose(0, 1), c = rnd({2, 2}, 3);  // b non-contiguous
  Tensor y = cat({a, b, c}, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 6}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 6; ++j) {
      double want = j < 3 ? at(a, {i, j}) : j < 4 ? at(b, {i, j - 3}) : at(c, {i, j - 4});
      EXPECT_EQ(at(y, {i, j}), want);
    }
  gradcheck([](const std::vector<Tensor>& x) { return cat({x[0], x[1], x[2]}, -1); }, {a, b, c});
  gradcheck([](const std::vector<Tensor>& x) { return cat({x[0], x[1]}, 0); }, {rnd({1, 3}, 4), rnd({2, 3}, 5)});
  expect_error([&] { cat({a, rnd({3, 2}, 6)}, 1); }, {"cat", "[2, 3]", "[3, 2]"});
  expect_error([&] { cat({a, rnd({2}, 6)}, 0); }, {"cat", "[2]"});
  EXPECT_EQ(cat({Tensor::from_vector<int64_t>({1}, {1}), Tensor::from_vector<int64_t>({2, 3}, {2})}, 0)
                .to_vector<int64_t>(),
            (std::vector<int64_t>{1, 2, 3}));
}

TEST(ShapeOps, StackForwardAndGrad) {
  Tensor a = rnd({2, 3}, 7), b = rnd({3, 2}, 8).transpose(0, 1);
  Tensor y = stack({a, b}, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 3}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      EXPECT_EQ(at(y, {i, 0, j}), at(a, {i, j}));
      EXPECT_EQ(at(y, {i, 1, j}), at(b, {i, j}));
    }
  gradcheck([](const std::vector<Tensor>& x) { return stack({x[0], x[1]}, -1); }, {a, b});
  expect_error([&] { stack({a, rnd({2, 2}, 9)}, 0); }, {"stack", "[2, 3]", "[2, 2]"});
}

TEST(ShapeOps, SplitChunkForwardGradAndMissingGrads) {
  Tensor a = rnd({5, 3}, 10);
  auto p = split(a, 2, 0);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].shape(), (Shape{1, 3}));
  EXPECT_EQ(at(p[1], {1, 2}), at(a, {3, 2}));
  auto q = split_sizes(a, {1, 2}, 1);
  EXPECT_EQ(q[1].shape(), (Shape{5, 2}));
  EXPECT_EQ(at(q[1], {4, 0}), at(a, {4, 1}));
  auto c = chunk(a, 2, 0);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(c[1].shape(), (Shape{2, 3}));
  vps::testing::MultiFn f = [](const std::vector<Tensor>& x) { return split_sizes(x[0], {1, 3, 1}, 1); };
  gradcheck(f, {rnd({2, 5}, 11).transpose(0, 1).transpose(0, 1)});
  gradcheck(f, {rnd({5, 2}, 12).transpose(0, 1)});  // non-contiguous
  // Only one piece used: the others get zero gradient.
  Tensor x = rnd({4, 2}, 13).set_requires_grad();
  sum(mul(chunk(x, 2, 0)[1], 3.0)).backward();
  std::vector<double> g = x.grad().to_vector<double>();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(g[i], i < 4 ? 0.0 : 3.0);
  expect_error([&] { split_sizes(a, {2, 2}, 0); }, {"split", "[5, 3]"});
  EXPECT_THROW(split(a, 0, 0), Error);
}

TEST(ShapeOps, IndexSelectForwardGradAndBadIndex) {
  Tensor a = rnd({4, 3}, 14).transpose(0, 1);  // (3, 4), non-contiguous
  Tensor i = idx({3, 0, 3, 1, 3}, {5});       // repeats: backward accumulates atomically
  Tensor y = index_select(a, 1, i);
  ASSERT_EQ(y.shape(), (Shape{3, 5}));
  std::vector<int64_t> iv = i.to_vector<int64_t>();
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < 5; ++j) EXPECT_EQ(at(y, {r, j}), at(a, {r, iv[j]}));
  gradcheck([&](const std::vector<Tensor>& x) { return index_select(x[0], 1, i); }, {a});
  // Contiguous input at a storage offset (the fast path): (3,4,2) middle dim.
  Tensor c = rnd({5, 4, 2}, 16).slice(0, 1, 4);
  ASSERT_TRUE(c.is_contiguous());
  Tensor yc = index_select(c, 1, i);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < 5; ++j)
      for (int64_t k = 0; k < 2; ++k) EXPECT_EQ(at(yc, {r, j, k}), at(c, {r, iv[j], k}));
  gradcheck([&](const std::vector<Tensor>& x) { return index_select(x[0], 0, idx({2, 2, 0}, {3})); },
            {rnd({3, 2, 2}, 15)});
  expect_error([&] { index_select(a, 1, idx({0, 4}, {2})); }, {"index_select", "4", "[3, 4]", "[2]"});
  expect_error([&] { index_select(a, 0, idx({-1}, {1})); }, {"index_select", "-1"});
  expect_error([&] { index_select(a, 0, idx({0, 1}, {1, 2})); }, {"index_select", "[1, 2]"});
  EXPECT_THROW(index_select(a, 0, Tensor::zeros({2}, DType::i32)), Error);
}

TEST(ShapeOps, GatherScatterAddForwardGradAndBadIndex) {
  Tensor a = rnd({3, 4}, 16);
  Tensor i = idx({0, 2, 2, 1, 3, 3, 0, 0}, {2, 4});
  Tensor y = gather(a, 0, idx({0, 2, 2, 1, 1, 0, 0, 2}, {2, 4}));
  Tensor g1 = gather(a.transpose(0, 1), 1, idx({2, 0, 1, 1}, {4, 1}));  // non-contiguous input
  for (int64_t r = 0; r < 4; ++r) EXPECT_EQ(at(g1, {r, 0}), at(a, {std::vector<int64_t>{2, 0, 1, 1}[r], r}));
  std::vector<int64_t> iv0{0, 2, 2, 1, 1, 0, 0, 2};
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(at(y, {r, c}), at(a, {iv0[r * 4 + c], c}));
  gradcheck([&](const std::vector<Tensor>& x) { return gather(x[0], 1, i); }, {a});
  // scatter_add: out = a + src scattered along dim 1; src may be larger than index.
  Tensor b = rnd({2, 5}, 17), src = rnd({3, 5}, 18);
  Tensor s = scatter_add(b, 1, i, src);
  std::vector<double> want = b.to_vector<double>();
  std::vector<int64_t> iv = i.to_vector<int64_t>();
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 4; ++c) want[r * 5 + iv[r * 4 + c]] += at(src, {r, c});
  EXPECT_EQ(s.to_vector<double>(), want);
  gradcheck([&](const std::vector<Tensor>& x) { return scatter_add(x[0], 1, i, x[1]); },
            {b, src.transpose(0, 1).contiguous().transpose(0, 1)});
  expect_error([&] { gather(a, 1, idx({4}, {1, 1})); }, {"gather", "4", "[3, 4]", "[1, 1]"});
  expect_error([&] { gather(a, 1, idx({0}, {1})); }, {"gather", "[1]"});
  expect_error([&] { scatter_add(b, 1, idx({5}, {1, 1}), src); }, {"scatter_add", "5"});
}

TEST(ShapeOps, MaskedFillForwardGradBroadcast) {
  Tensor a = rnd({3, 2}, 19).transpose(0, 1);  // (2, 3), non-contiguous
  Tensor m = Tensor::from_vector<uint8_t>({1, 0, 1}, {3});
  Tensor y = masked_fill(a, m, -5.0);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(at(y, {r, c}), c == 1 ? at(a, {r, c}) : -5.0);
  gradcheck([&](const std::vector<Tensor>& x) { return masked_fill(x[0], m, 2.0); }, {a});
  Tensor x = rnd({2, 3}, 20).set_requires_grad();
  sum(masked_fill(x, m, 1.0)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1, 0, 0, 1, 0}));
  expect_error([&] { masked_fill(a, Tensor::zeros({2, 3, 1}, DType::u8), 0); }, {"masked_fill", "[2, 3, 1]"});
  EXPECT_THROW(masked_fill(a, Tensor::zeros({3}, DType::f32), 0), Error);
}

TEST(ShapeOps, PadForwardCropAndGrad) {
  Tensor a = rnd({3, 2}, 21).transpose(0, 1);  // (2, 3), non-contiguous
  Tensor y = pad(a, {1, 2, 0, 1}, 7.0);       // last dim (1, 2), first dim (0, 1)
  ASSERT_EQ(y.shape(), (Shape{3, 6}));
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 6; ++c) {
      bool in = r < 2 && c >= 1 && c < 4;
      EXPECT_EQ(at(y, {r, c}), in ? at(a, {r, c - 1}) : 7.0);
    }
  Tensor cr = pad(a, {-1, 1});  // crop one column on the left, pad one on the right
  ASSERT_EQ(cr.shape(), (Shape{2, 3}));
  for (int64_t r = 0; r < 2; ++r) {
    EXPECT_EQ(at(cr, {r, 0}), at(a, {r, 1}));
    EXPECT_EQ(at(cr, {r, 2}), 0.0);
  }
  gradcheck([](const std::vector<Tensor>& x) { return pad(x[0], {1, 2, 0, 1}, 3.0); }, {a});
  gradcheck([](const std::vector<Tensor>& x) { return pad(x[0], {-1, 1, 1, -1}); }, {rnd({2, 2, 3}, 22)});
  expect_error([&] { pad(a, {-4, 0}); }, {"pad", "[2, 3]"});
  expect_error([&] { pad(a, {1, 1, 1}); }, {"pad", "[2, 3]"});
}

TEST(ShapeOps, ParityCpuCuda) {
  VPS_REQUIRE_CUDA();
  using vps::testing::check_parity;
  Tensor a = rnd({4, 5}, 23), b = rnd({4, 2}, 24);
  check_parity([](const std::vector<Tensor>& x) { return cat({x[0], x[1]}, 1); }, {a, b});
  check_parity([](const std::vector<Tensor>& x) { return stack({x[0], x[0]}, 0); }, {a});
  check_parity([](const std::vector<Tensor>& x) { return split_sizes(x[0], {2, 3}, 1); }, {a});
  check_parity([](const std::vector<Tensor>& x) { return index_select(x[0], 0, x[1]); },
               {a, idx({3, 3, 0, 1, 3}, {5})});
  Tensor gi = idx({0, 4, 4, 1, 2, 2, 2, 0}, {4, 2});
  check_parity([](const std::vector<Tensor>& x) { return gather(x[0], 1, x[1]); }, {a, gi});
  check_parity([](const std::vector<Tensor>& x) { return scatter_add(x[0], 1, x[1], x[2]); }, {a, gi, b});
  check_parity([](const std::vector<Tensor>& x) { return masked_fill(x[0], x[1], 0.5); },
               {a, Tensor::from_vector<uint8_t>({1, 0, 0, 1, 1}, {5})});
  check_parity([](const std::vector<Tensor>& x) { return pad(x[0], {2, -1, 1, 1}, 1.5); }, {a});
}
