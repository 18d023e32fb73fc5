// Detection losses (losses/det_losses.cpp and the fused kernels of losses/elementwise_loss.cu): torch
// fixtures (values and gradients), naive references, mmdet reductions, float64 gradchecks,
// non-contiguous inputs, empty inputs, bad input, CUDA parity (skips without GPU).
#include <gtest/gtest.h>

#include <cmath>

#include "losses/det_losses.h"
#include "ops/ops.h"
#include "tensor/device.h"
#include "tests/expect_error.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"

using namespace vps;
using vps::testing::expect_error;
using vps::testing::rnd;

namespace {

Tensor fx(const std::string& name) { return vps::testing::fixture("det_losses", name); }
Tensor fx_i64(const std::string& name) { return fx(name).to(DType::i64); }
Tensor leaf(const Tensor& t) { return t.clone().set_requires_grad(true); }

}  // namespace

TEST(DetLosses, SigmoidBceMatchesTorch) {
  Tensor x = leaf(fx("bce_x"));
  Tensor loss = sigmoid_bce_with_logits(x, fx("bce_t"), fx("bce_w"), 7.0);
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_ALLCLOSE(loss, fx("bce_loss"), 1e-12, 1e-12);
  loss.backward();
  EXPECT_ALLCLOSE(x.grad(), fx("bce_dx"), 1e-12, 1e-12);
}

TEST(DetLosses, SigmoidBceNaiveFloatAndMean) {
  // Extreme logits stay finite (stable form); avg_factor <= 0 means the mean over all elements.
  std::vector<float> xs = {-100.f, -3.f, 0.f, 0.5f, 4.f, 100.f}, ts = {0, 1, 1, 0, 1, 0};
  Tensor x = Tensor::from_vector(xs, {2, 3}), t = Tensor::from_vector(ts, {2, 3});
  double ref = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    double v = xs[i], p = 1 / (1 + std::exp(-v));
    double l = v > 30 ? v * (1 - ts[i]) : (v < -30 ? -v * ts[i] : -(ts[i] * std::log(p) + (1 - ts[i]) * std::log(1 - p)));
    ref += l;
  }
  EXPECT_NEAR(sigmoid_bce_with_logits(x, t).item_double(), ref / 6, 1e-5);
  // gradient at x = 0 is sigmoid(0) - t = -0.5 (a composed relu/abs form would get this wrong)
  Tensor z = Tensor::zeros({1}, DType::f64).set_requires_grad(true);
  sigmoid_bce_with_logits(z, Tensor::ones({1}, DType::f64)).backward();
  EXPECT_NEAR(z.grad().item_double(), -0.5, 1e-15);
}

TEST(DetLosses, SmoothL1MatchesTorch) {
  Tensor p = leaf(fx("sl1_p"));
  Tensor loss = smooth_l1(p, fx("sl1_t"), fx("sl1_w"), 1.0 / 9.0, 5.0);
  EXPECT_ALLCLOSE(loss, fx("sl1_loss"), 1e-12, 1e-12);
  loss.backward();
  EXPECT_ALLCLOSE(p.grad(), fx("sl1_dp"), 1e-12, 1e-12);
}

TEST(DetLosses, SmoothL1ByHand) {
  // beta 1: d = 0.5 -> 0.125; d = -2 -> 1.5; beta 0 is L1.
  Tensor p = Tensor::from_vector<double>({0.5, -2}, {2}), t = Tensor::zeros({2}, DType::f64);
  EXPECT_NEAR(smooth_l1(p, t, Tensor(), 1.0, 1.0).item_double(), 1.625, 1e-15);
  EXPECT_NEAR(smooth_l1(p, t, Tensor(), 0.0, 1.0).item_double(), 2.5, 1e-15);
  EXPECT_NEAR(smooth_l1(p, t, Tensor(), 1.0).item_double(), 1.625 / 2, 1e-15);  // mean
}

TEST(DetLosses, CrossEntropyMatchesTorch) {
  Tensor x = leaf(fx("ce_x"));
  Tensor loss = softmax_cross_entropy(x, fx_i64("ce_y"), fx("ce_w"));
  EXPECT_ALLCLOSE(loss, fx("ce_loss"), 1e-12, 1e-12);
  loss.backward();
  EXPECT_ALLCLOSE(x.grad(), fx("ce_dx"), 1e-12, 1e-12);
  // explicit avg_factor: the same sum divided by 2
  double sum = fx("ce_loss").item_double() * 5;  // 5 non-ignored entries with weight > 0
  EXPECT_NEAR(softmax_cross_entropy(fx("ce_x"), fx_i64("ce_y"), fx("ce_w"), 2.0).item_double(), sum / 2, 1e-12);
}

TEST(DetLosses, CrossEntropyDenseMatchesTorch) {
  Tensor z = leaf(fx("ce2d_z"));
  Tensor loss = softmax_cross_entropy_nchw(z, fx_i64("ce2d_lab"), 255);
  EXPECT_ALLCLOSE(loss, fx("ce2d_loss"), 1e-12, 1e-12);
  loss.backward();
  EXPECT_ALLCLOSE(z.grad(), fx("ce2d_dz"), 1e-12, 1e-12);
}

TEST(DetLosses, CrossEntropyNaiveFloat) {
  Tensor x = rnd({5, 3}, 3).to(DType::f32);
  Tensor y = Tensor::from_vector<int64_t>({0, 2, 1, 1, 0}, {5});
  std::vector<float> xv = x.to_vector<float>();
  std::vector<int64_t> yv = y.to_vector<int64_t>();
  double ref = 0;
  for (int i = 0; i < 5; ++i) {
    double m = -1e9, s = 0;
    for (int c = 0; c < 3; ++c) m = std::max(m, double(xv[size_t(i * 3 + c)]));
    for (int c = 0; c < 3; ++c) s += std::exp(xv[size_t(i * 3 + c)] - m);
    ref += -(xv[size_t(i * 3 + yv[size_t(i)])] - m - std::log(s));
  }
  EXPECT_NEAR(softmax_cross_entropy(x, y).item_double(), ref / 5, 1e-5);
}

TEST(DetLosses, MaskBceMatchesTorch) {
  Tensor m = leaf(fx("mask_m"));
  Tensor loss = mask_bce(m, fx("mask_t"), fx_i64("mask_lab"));
  EXPECT_ALLCLOSE(loss, fx("mask_loss"), 1e-12, 1e-12);
  loss.backward();
  EXPECT_ALLCLOSE(m.grad(), fx("mask_dm"), 1e-12, 1e-12);
}

TEST(DetLosses, EmptyInputsGiveConnectedZero) {
  Tensor m = Tensor::zeros({0, 3, 4, 4}, DType::f64).set_requires_grad(true);
  Tensor loss = mask_bce(m, Tensor::zeros({0, 4, 4}, DType::f64), Tensor::zeros({0}, DType::i64));
  EXPECT_EQ(loss.item_double(), 0.0);
  loss.backward();
  Tensor c = Tensor::zeros({0, 3}, DType::f64).set_requires_grad(true);
  EXPECT_EQ(softmax_cross_entropy(c, Tensor::zeros({0}, DType::i64)).item_double(), 0.0);
  EXPECT_EQ(classification_accuracy(c, Tensor::zeros({0}, DType::i64)), 0.0);
}

TEST(DetLosses, Accuracy) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 0, 5, 0, 0, 0}, {4, 2});
  EXPECT_NEAR(classification_accuracy(x, Tensor::from_vector<int64_t>({1, 0, 0, 1}, {4})), 75.0, 1e-12);  // row 4 ties: first max (0)
}

TEST(DetLosses, ClassDeltas) {
  // K=2, nc=3: row 0 picks columns 8..11 (class 2), row 1 columns 0..3 (class 0).
  Tensor p = Tensor::arange(0, 24, 1, DType::f64).reshape({2, 12});
  Tensor d = class_deltas(p, Tensor::from_vector<int64_t>({2, 0}, {2}));
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{8, 9, 10, 11, 12, 13, 14, 15}));
  Tensor lab = Tensor::from_vector<int64_t>({1, 2, 0}, {3});
  vps::testing::gradcheck([&](const std::vector<Tensor>& in) { return class_deltas(in[0], lab); }, {rnd({3, 12}, 4)});
  expect_error([&] { class_deltas(rnd({2, 10}, 1), Tensor::zeros({2}, DType::i64)); }, {"class_deltas", "[2, 10]"});
  expect_error([&] { class_deltas(p, Tensor::from_vector<int64_t>({3, 0}, {2})); }, {"class_deltas", "label 3"});
}

TEST(DetLosses, Gradcheck) {
  using vps::testing::gradcheck;
  Tensor t = Tensor::from_vector<double>({1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1}, {3, 4});
  Tensor w = rnd({3, 4}, 5, 0, 2);
  gradcheck([&](const std::vector<Tensor>& in) { return sigmoid_bce_with_logits(in[0], t, w, 3.0); },
            {rnd({3, 4}, 6, -4, 4)});
  Tensor tg = rnd({3, 4}, 7);
  gradcheck([&](const std::vector<Tensor>& in) { return smooth_l1(in[0], tg, w, 0.3, 2.0); }, {rnd({3, 4}, 8, -2, 2)});
  Tensor y = Tensor::from_vector<int64_t>({2, -100, 0, 1}, {4});
  vps::testing::GradcheckOptions first_only;
  first_only.wrt = {true, false};
  gradcheck([&](const std::vector<Tensor>& in) { return softmax_cross_entropy(in[0], y, in[1].detach()); },
            {rnd({4, 3}, 9, -3, 3), rnd({4}, 10, 0.5, 1)}, first_only);
  Tensor mt = Tensor::from_vector<double>({1, 0, 0, 1, 1, 1, 0, 0}, {2, 2, 2});
  Tensor ml = Tensor::from_vector<int64_t>({1, 0}, {2});
  gradcheck([&](const std::vector<Tensor>& in) { return mask_bce(in[0], mt, ml); }, {rnd({2, 3, 2, 2}, 11, -3, 3)});
  Tensor lab = Tensor::from_vector<int64_t>({0, 255, 2, 1, 1, 0, 2, 255}, {2, 2, 2});
  gradcheck([&](const std::vector<Tensor>& in) { return softmax_cross_entropy_nchw(in[0], lab, 255); },
            {rnd({2, 3, 2, 2}, 12, -2, 2)});
}

TEST(DetLosses, NonContiguousInputs) {
  Tensor x = rnd({4, 3}, 13, -3, 3), t = rnd({4, 3}, 14, 0, 1);
  Tensor xt = x.transpose(0, 1), tt = t.transpose(0, 1);  // (3,4) views
  EXPECT_NEAR(sigmoid_bce_with_logits(xt, tt).item_double(),
              sigmoid_bce_with_logits(xt.contiguous(), tt.contiguous()).item_double(), 1e-14);
  EXPECT_NEAR(smooth_l1(xt, tt, Tensor(), 0.5).item_double(),
              smooth_l1(xt.contiguous(), tt.contiguous(), Tensor(), 0.5).item_double(), 1e-14);
  Tensor y = Tensor::from_vector<int64_t>({0, 2, 1}, {3});
  EXPECT_NEAR(softmax_cross_entropy(xt.slice(1, 0, 3), y).item_double(),
              softmax_cross_entropy(xt.slice(1, 0, 3).contiguous(), y).item_double(), 1e-14);
}

TEST(DetLosses, BadInput) {
  Tensor x = rnd({3, 4}, 1);
  expect_error([&] { sigmoid_bce_with_logits(x, rnd({4, 3}, 2)); }, {"sigmoid_bce_with_logits", "[4, 3]", "[3, 4]"});
  expect_error([&] { sigmoid_bce_with_logits(x, x.to(DType::f32)); }, {"sigmoid_bce_with_logits", "float32"});
  expect_error([&] { smooth_l1(x, x, rnd({3}, 2)); }, {"smooth_l1", "weights"});
  expect_error([&] { smooth_l1(x, x, Tensor(), -1.0); }, {"smooth_l1", "beta"});
  expect_error([&] { softmax_cross_entropy(x, Tensor::zeros({4}, DType::i64)); }, {"softmax_cross_entropy", "[4]"});
  expect_error([&] { softmax_cross_entropy(x, Tensor::zeros({3}, DType::f64)); }, {"softmax_cross_entropy", "int64"});
  expect_error([&] { softmax_cross_entropy(x, Tensor::from_vector<int64_t>({0, 4, 1}, {3})); },
               {"softmax_cross_entropy", "outside [0, 4)"});
  expect_error([&] { mask_bce(rnd({2, 3, 4, 4}, 1), rnd({2, 5, 5}, 1), Tensor::zeros({2}, DType::i64)); },
               {"mask_bce", "[2, 5, 5]"});
  expect_error([&] { mask_bce(rnd({2, 3, 4, 4}, 1), rnd({2, 4, 4}, 1), Tensor::full({2}, 3, DType::i64)); },
               {"mask_bce", "label 3"});
  expect_error([&] { softmax_cross_entropy_nchw(rnd({1, 3, 2, 2}, 1), Tensor::zeros({1, 2, 3}, DType::i64)); },
               {"softmax_cross_entropy_nchw", "[1, 2, 3]"});
}

TEST(DetLosses, CudaParity) {
  VPS_REQUIRE_CUDA();
  using vps::testing::check_parity;
  Tensor t = rnd({3, 4}, 2, 0, 1), w = rnd({3, 4}, 3, 0, 1);
  check_parity([&](const std::vector<Tensor>& in) { return sigmoid_bce_with_logits(in[0], in[1].detach(), in[2].detach(), 2.0); },
               {rnd({3, 4}, 1, -3, 3), t, w});
  check_parity([&](const std::vector<Tensor>& in) { return smooth_l1(in[0], in[1].detach(), Tensor(), 1.0 / 9.0); },
               {rnd({3, 4}, 4), t});
  check_parity([&](const std::vector<Tensor>& in) {
    return softmax_cross_entropy(in[0], Tensor::from_vector<int64_t>({2, -100, 0}, {3}).to(in[0].device()));
  }, {rnd({3, 4}, 5)});
  check_parity([&](const std::vector<Tensor>& in) {
    return mask_bce(in[0], in[1].detach(), Tensor::from_vector<int64_t>({1, 0}, {2}).to(in[0].device()));
  }, {rnd({2, 3, 2, 2}, 6), rnd({2, 2, 2}, 7, 0, 1)});
}
