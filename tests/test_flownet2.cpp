// FlowNet2 (models/flownet2/) against the PyTorch re-implementation of the spec
// (tests/fixtures/flownet2/make_flownet2_fixtures.py): the checkpoint in NVIDIA's layout goes through
// convert_weights --key state_dict (the library call behind `vps convert`) and a strict load; the four
// intermediate flows, the fused flow and compute_flow match within 1e-6 (float64; the fixtures are
// stored as float32) and 1e-4 (float32), relative to each tensor's largest magnitude. The full-width
// key list equals the one PyTorch builds, with 162,518,834 parameters; broken checkpoints and inputs
// are refused by name.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "models/flownet2/flownet2.h"
#include "models/weights_io.h"
#include "tensor/io/convert.h"
#include "tensor/io/tensor_io.h"
#include "tests/gradcheck.h"
#include "tests/npy_fixture.h"
#include "tests/weights_test_util.h"

using namespace vps;
using namespace vps::models;

namespace {

const std::string kDir = "tests/fixtures/flownet2/";

FlowNetOptions reduced(DType dtype) {
  FlowNetOptions o;
  o.width_divisor = 32;
  o.dtype = dtype;
  return o;
}

// The fixture checkpoint converted as a user would: vps convert CKPT OUT --key state_dict.
std::shared_ptr<FlowNet2> load_fixture_model(const test::TempDir& dir, DType dtype) {
  std::string st = dir.file("flownet2.safetensors");
  ConvertOptions c;
  c.key = "state_dict";
  convert_weights(kDir + "checkpoint_w32.pth.tar", st, c);
  auto net = std::make_shared<FlowNet2>(reduced(dtype));
  KeyReport rep = models::load(*net, st);  // strict
  EXPECT_TRUE(rep.ok()) << rep.to_string();
  return net;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to(DType::f64).contiguous().to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

void expect_close(const Tensor& got, const std::string& name, double tol) {
  Tensor want = vps::testing::fixture("flownet2", name);
  ASSERT_EQ(got.shape(), want.shape()) << name;
  double r = vps::testing::allclose_ratio(got, want, tol * max_abs(want), 0);
  EXPECT_LE(r, 1.0) << name << ": error " << r * tol << " relative to max |" << name << "| " << max_abs(want);
  std::printf("[ flownet2 ] %s %s: max error / max |value| = %.2e\n", dtype_name(got.dtype()), name.c_str(), r * tol);
}

void run_golden(DType dtype, double tol) {
  test::TempDir dir;
  auto net = load_fixture_model(dir, dtype);
  Tensor img = vps::testing::fixture("flownet2", "img").to(dtype);
  Tensor ref = vps::testing::fixture("flownet2", "ref_img").to(dtype);
  Tensor input = flownet2_input(img, ref);
  ASSERT_EQ(input.shape(), (Shape{1, 3, 2, 64, 128}));
  FlowNet2Flows f = net->forward_all(input);
  expect_close(f.c, "flow_c", tol);
  expect_close(f.s1, "flow_s1", tol);
  expect_close(f.s2, "flow_s2", tol);
  expect_close(f.sd, "flow_sd", tol);
  expect_close(f.fused, "flow_fused", tol);
  expect_close(compute_flow(*net, img, ref), "compute_flow", tol);
}

}  // namespace

TEST(FlowNet2Golden, MatchesPyTorchFloat64) { run_golden(DType::f64, 1e-6); }
TEST(FlowNet2Golden, MatchesPyTorchFloat32) { run_golden(DType::f32, 1e-4); }

// The key list and shapes PyTorch's FlowNet2 (the re-implementation at full width) builds, in
// state_dict order, and the spec's parameter count.
TEST(FlowNet2Keys, FullWidthEqualsCheckpointLayout) {
  std::ifstream f(kDir + "keys_full.json");
  ASSERT_TRUE(f.good());
  nlohmann::json want = nlohmann::json::parse(f);
  FlowNet2 net;  // full width, float32: 650 MB
  nn::NamedTensors sd = net.state_dict();
  ASSERT_EQ(sd.size(), want.size());
  ASSERT_EQ(sd.size(), 220u);
  int64_t params = 0;
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(sd[i].first, want[i][0].get<std::string>()) << "entry " << i;
    EXPECT_EQ(sd[i].second.shape(), want[i][1].get<Shape>()) << sd[i].first;
    EXPECT_FALSE(sd[i].second.requires_grad()) << sd[i].first << " must be frozen";
    params += sd[i].second.numel();
  }
  EXPECT_EQ(params, 162518834);
  EXPECT_FALSE(net.is_training());
}

// A checkpoint with a key missing, an extra key or a wrong shape is refused, the message naming it.
TEST(FlowNet2Keys, BrokenCheckpointRefusedNamingTheKey) {
  FlowNet2 net(reduced(DType::f32));
  NamedArrays good;
  for (auto& [name, t] : net.state_dict()) good.emplace_back(name, to_raw(t));
  EXPECT_TRUE(load_arrays(net, good, "good").ok());

  NamedArrays missing = good;
  missing.erase(missing.begin() + 100);
  const std::string gone = good[100].first;
  test::expect_error([&] { load_arrays(net, missing, "missing.safetensors"); }, {"missing.safetensors", gone});

  NamedArrays extra = good;
  extra.emplace_back("flownets_1.upsampled_flow6_to_5.bias", good[1].second);  // FlowNetS has none
  test::expect_error([&] { load_arrays(net, extra, "extra"); }, {"flownets_1.upsampled_flow6_to_5.bias"});

  NamedArrays shaped = good;
  for (auto& [name, a] : shaped)
    if (name == "flownetc.conv3_1.0.weight") a.shape[1] += 1, a.data.resize(size_t(a.numel()) * 4);
  test::expect_error([&] { load_arrays(net, shaped, "shaped"); }, {"flownetc.conv3_1.0.weight"});
}

TEST(FlowNet2Input, BadShapesAndDtypesRefused) {
  FlowNet2 net(reduced(DType::f32));
  test::expect_error([&] { net.forward(Tensor::zeros({1, 3, 2, 60, 128})); }, {"FlowNet2", "[1, 3, 2, 60, 128]"});
  test::expect_error([&] { net.forward(Tensor::zeros({1, 6, 64, 128})); }, {"FlowNet2", "[1, 6, 64, 128]"});
  test::expect_error([&] { net.forward(Tensor::zeros({1, 3, 2, 64, 64}, DType::f64)); }, {"float64", "float32"});
  test::expect_error([&] { net.flownetfusion->forward(Tensor::zeros({1, 12, 64, 64})); },
                     {"FlowNetFusion", "[1, 12, 64, 64]"});
  test::expect_error([&] { compute_flow(net, Tensor::zeros({1, 3, 60, 120}), Tensor::zeros({1, 3, 60, 124})); },
                     {"[1, 3, 60, 120]", "[1, 3, 60, 124]"});
}

// Frozen: inputs that require grad give a flow without a graph, and no parameter collects a gradient.
TEST(FlowNet2Input, ComputeFlowRecordsNoGraph) {
  test::TempDir dir;
  auto net = load_fixture_model(dir, DType::f64);
  Tensor img = vps::testing::fixture("flownet2", "img").set_requires_grad();
  Tensor flow = compute_flow(*net, img, vps::testing::fixture("flownet2", "ref_img"));
  EXPECT_EQ(flow.shape(), (Shape{1, 2, 15, 30}));
  EXPECT_FALSE(flow.requires_grad());
  for (auto& p : net->parameters()) EXPECT_FALSE(p.requires_grad());
}

TEST(FlowNet2Parity, CpuVsCuda) {
  VPS_REQUIRE_CUDA();
  test::TempDir dir;
  auto cpu = load_fixture_model(dir, DType::f32);
  auto gpu = load_fixture_model(dir, DType::f32);
  gpu->to(cuda_device());
  Tensor img = vps::testing::fixture("flownet2", "img").to(DType::f32);
  Tensor ref = vps::testing::fixture("flownet2", "ref_img").to(DType::f32);
  FlowNet2Flows a = cpu->forward_all(flownet2_input(img, ref));
  FlowNet2Flows b = gpu->forward_all(flownet2_input(img.to(cuda_device()), ref.to(cuda_device())));
  for (auto [x, y, name] : {std::tuple{a.c, b.c, "c"}, {a.s1, b.s1, "s1"}, {a.s2, b.s2, "s2"}, {a.sd, b.sd, "sd"},
                            {a.fused, b.fused, "fused"}})
    EXPECT_LE(vps::testing::allclose_ratio(y, x, 1e-4 * max_abs(x), 0), 1.0) << name;
}
