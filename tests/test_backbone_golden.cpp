// ResNet + FPN against PyTorch (tests/fixtures/backbone/make_backbone.py): the fixture checkpoints (zip and
// legacy .pth) go through convert_weights (the library call behind `vps convert`) and load(); the
// outputs C2..C5, P2..P6 and every parameter gradient of a scalar loss match within 1e-5 (float64)
// and 1e-4 (float32), relative to each tensor's largest magnitude and per element.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "models/weights_io.h"
#include "tensor/io/convert.h"
#include "tensor/io/tensor_io.h"
#include "tests/backbone_test_util.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"
#include "tests/weights_test_util.h"

using namespace vps;
using namespace vps::models;

namespace {

const std::string kDir = "tests/fixtures/backbone/";

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to(DType::f64).contiguous().to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

// |a - b| <= tol * (max|b| + |b|) elementwise: "relative" both to the tensor's scale and the element.
void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what, double* worst) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double r = vps::testing::allclose_ratio(got, want, tol * max_abs(want), tol);
  *worst = std::max(*worst, r * tol);
  EXPECT_LE(r, 1.0) << what << ": error ratio " << r << " at tolerance " << tol;
}

void run_golden(const test::BackboneFixture& f, const std::string& pth, DType dtype, double tol) {
  test::TempDir dir;
  std::string st = dir.file("w.safetensors");
  convert_weights(kDir + pth, st, ConvertOptions{});
  auto model = test::make_fixture_model(f, dtype);
  KeyReport rep = models::load(*model, st);  // strict
  EXPECT_TRUE(rep.ok()) << rep.to_string();
  model->train();  // norm_eval: BN keeps running statistics, as the fixture's .eval() BN

  Tensor x = vps::testing::fixture("backbone", f.name + "_x").to(dtype);
  nn::NamedTensors outs = model->forward(x);
  ASSERT_EQ(outs.size(), 9u);
  double worst = 0;
  for (auto& [name, t] : outs)
    expect_close(t, vps::testing::fixture("backbone", f.name + "_" + name), tol, f.name + " " + pth + " " + name, &worst);
  double worst_out = worst;

  test::fixture_loss(outs).backward();
  WeightsFile grads = load_weights(kDir + f.name + "_grads.pth");
  std::map<std::string, Tensor> params;
  for (auto& kv : model->named_parameters()) params[kv.first] = kv.second;
  EXPECT_EQ(grads.arrays.size(), params.size());
  worst = 0;
  for (auto& [name, raw] : grads.arrays) {
    ASSERT_TRUE(params.count(name)) << name;
    Tensor g = params[name].grad();
    ASSERT_TRUE(g.defined()) << name << " has no gradient";
    expect_close(g, from_raw(raw), tol, f.name + " grad " + name, &worst);
  }
  std::printf("[ backbone ] %s %s %s: worst output error %.2e, worst gradient error %.2e (relative)\n",
              f.name.c_str(), pth.c_str(), dtype_name(dtype), worst_out, worst);
}

}  // namespace

TEST(BackboneGolden, BottleneckZipFloat64) { run_golden(test::backbone_fixtures()[0], "bott_zip.pth", DType::f64, 1e-5); }
TEST(BackboneGolden, BottleneckLegacyFloat64) {
  run_golden(test::backbone_fixtures()[0], "bott_legacy.pth", DType::f64, 1e-5);
}
TEST(BackboneGolden, BottleneckZipFloat32) { run_golden(test::backbone_fixtures()[0], "bott_zip.pth", DType::f32, 1e-4); }
TEST(BackboneGolden, BasicBlockLegacyFloat64) {
  run_golden(test::backbone_fixtures()[1], "basic_legacy.pth", DType::f64, 1e-5);
}
TEST(BackboneGolden, BasicBlockLegacyFloat32) {
  run_golden(test::backbone_fixtures()[1], "basic_legacy.pth", DType::f32, 1e-4);
}

// Folding every conv+BN pair at load leaves the outputs unchanged (float64, 1e-5 relative; in practice ~1e-13).
TEST(BackboneGolden, FoldedBatchNormKeepsOutputs) {
  const auto& f = test::backbone_fixtures()[0];
  auto plain = test::make_fixture_model(f, DType::f64);
  auto folded = test::make_fixture_model(f, DType::f64);
  models::load(*plain, kDir + "bott_zip.pth");
  models::LoadOptions o;
  o.fold_bn = true;
  models::load(*folded, kDir + "bott_zip.pth", o);
  EXPECT_TRUE(folded->backbone->folded());
  Tensor x = vps::testing::fixture("backbone", "bott_x");
  auto a = plain->forward(x), b = folded->forward(x);
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) expect_close(b[i].second, a[i].second, 1e-5, "folded " + a[i].first, &worst);
  std::printf("[ backbone ] folded BN: worst relative difference %.2e\n", worst);
  EXPECT_LT(worst, 1e-10);
}

// The same fixture model on CUDA (cuDNN or im2col) against the CPU golden outputs and gradients, float32.
TEST(BackboneGolden, CudaParityWithFixture) {
  VPS_REQUIRE_CUDA();
  const auto& f = test::backbone_fixtures()[0];
  auto model = test::make_fixture_model(f, DType::f32);
  models::load(*model, kDir + "bott_zip.pth");
  model->to(cuda_device(0));
  Tensor x = vps::testing::fixture("backbone", "bott_x").to(DType::f32).to(cuda_device(0));
  nn::NamedTensors outs = model->forward(x);
  double worst = 0;
  for (auto& [name, t] : outs)
    expect_close(t.cpu(), vps::testing::fixture("backbone", "bott_" + name), 1e-4, "cuda " + name, &worst);
  test::fixture_loss(outs).backward();
  WeightsFile grads = load_weights(kDir + "bott_grads.pth");
  std::map<std::string, Tensor> params;
  for (auto& kv : model->named_parameters()) params[kv.first] = kv.second;
  for (auto& [name, raw] : grads.arrays)
    expect_close(params.at(name).grad().cpu(), from_raw(raw), 1e-4, "cuda grad " + name, &worst);
  models::fold_batch_norms(*model);  // folded on the device the model lives on
  auto folded = model->forward(x);
  for (size_t i = 0; i < outs.size(); ++i)
    expect_close(folded[i].second.cpu(), outs[i].second.cpu(), 1e-4, "cuda folded " + outs[i].first, &worst);
}
