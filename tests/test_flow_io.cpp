#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/flow_io.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/tensor_io.h"
#include "tests/expect_error.h"
#include "tests/temp_dir.h"

using namespace vps;
using namespace vps::data;
using vps::testing::expect_error;

namespace {

PairFlow sample_flow(int64_t h, int64_t w) {
  std::vector<float> fl(size_t(2 * h * w));
  std::vector<uint8_t> va(size_t(h * w));
  for (size_t i = 0; i < fl.size(); ++i) fl[i] = float(int(i % 17) - 8) * 0.37f;
  for (size_t i = 0; i < va.size(); ++i) va[i] = i % 3 != 0;
  PairFlow f;
  f.flow = Tensor::from_vector(fl, {2, h, w});
  f.valid = Tensor::from_vector(va, {1, h, w});
  f.scale = 0.25;
  f.source = "synthetic-exact";
  f.target = "a_000010_leftImg8bit.png";
  f.reference = "a_000020_newImg8bit.png";
  return f;
}

}  // namespace

TEST(FlowIo, FileNameJoinsTheStems) {
  EXPECT_EQ(pair_flow_file("d/flow", "x/0001_t_leftImg8bit.png", "0001_r_newImg8bit.png"),
            "d/flow/0001_t_leftImg8bit__0001_r_newImg8bit.safetensors");
}

TEST(FlowIo, Float32RoundTripIsExactFloat16WithinHalfPrecision) {
  vps::test::TempDir d;
  PairFlow f = sample_flow(3, 5);
  for (bool half : {false, true}) {
    std::string p = d / (half ? "h.safetensors" : "f.safetensors");
    write_pair_flow(p, f, half);
    PairFlow g = read_pair_flow(p);
    EXPECT_EQ(g.flow.dtype(), DType::f32);
    EXPECT_EQ(g.flow.shape(), f.flow.shape());
    EXPECT_EQ(g.valid.to_vector<uint8_t>(), f.valid.to_vector<uint8_t>());
    EXPECT_EQ(g.scale, 0.25);
    EXPECT_EQ(g.source, f.source);
    EXPECT_EQ(g.target, f.target);
    EXPECT_EQ(g.reference, f.reference);
    auto a = f.flow.to_vector<float>(), b = g.flow.to_vector<float>();
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
    if (half) {
      EXPECT_GT(worst, 0.0);     // 0.37 * k is not a half: the file really holds float16
      EXPECT_LE(worst, 2e-3);    // |v| < 3: half spacing 2^-9
    } else {
      EXPECT_EQ(worst, 0.0);
    }
    auto md = read_safetensors(p).metadata;
    EXPECT_EQ(md["height"], "3");
    EXPECT_EQ(md["width"], "5");
    EXPECT_EQ(md["scale"], "0.25");
  }
}

TEST(FlowIo, BadFilesAreRefusedNamingFileAndKey) {
  vps::test::TempDir d;
  PairFlow f = sample_flow(2, 4);
  std::map<std::string, std::string> md = {{"target", "t.png"}, {"reference", "r.png"}, {"height", "2"},
                                           {"width", "4"},      {"scale", "1"},          {"source", "flownet2"}};
  std::string p = d / "bad.safetensors";
  save_safetensors(p, {{"flow", f.flow}}, md);
  expect_error([&] { read_pair_flow(p); }, {p, "'valid'", "missing"});
  save_safetensors(p, {{"flow", f.flow.slice(0, 0, 1)}, {"valid", f.valid}}, md);
  expect_error([&] { read_pair_flow(p); }, {p, "'flow'", "[1, 2, 4]"});
  save_safetensors(p, {{"flow", f.flow}, {"valid", f.valid.to(DType::f32)}}, md);
  expect_error([&] { read_pair_flow(p); }, {p, "'valid'", "uint8"});
  auto wrong = md;
  wrong["width"] = "5";
  save_safetensors(p, {{"flow", f.flow}, {"valid", f.valid}}, wrong);
  expect_error([&] { read_pair_flow(p); }, {p, "2x5", "[2, 2, 4]"});
  wrong = md;
  wrong.erase("reference");
  save_safetensors(p, {{"flow", f.flow}, {"valid", f.valid}}, wrong);
  expect_error([&] { read_pair_flow(p); }, {p, "'reference'"});
  wrong = md;
  wrong["scale"] = "half";
  save_safetensors(p, {{"flow", f.flow}, {"valid", f.valid}}, wrong);
  expect_error([&] { read_pair_flow(p); }, {p, "'scale'", "half"});
  PairFlow g = f;
  g.valid = Tensor::zeros({1, 2, 3}, DType::u8);
  expect_error([&] { write_pair_flow(d / "w.safetensors", g, false); }, {"w.safetensors", "[1, 2, 3]"});
  // Non-finite flow is neither read (it would warp to NaN, be trained on or scored) nor written.
  Tensor nan_flow = f.flow.clone();
  nan_flow.data<float>()[2 * 4 + 1 * 4 + 3] = INFINITY;  // channel 1, y 1, x 3
  save_safetensors(p, {{"flow", nan_flow}, {"valid", f.valid}}, md);
  expect_error([&] { read_pair_flow(p); }, {p, "non-finite", "channel 1, y 1, x 3"});
  g = f;
  g.flow = nan_flow;
  expect_error([&] { write_pair_flow(d / "w.safetensors", g, true); }, {"w.safetensors", "non-finite"});
  EXPECT_FALSE(std::filesystem::exists(d / "w.safetensors"));
}

TEST(FlowIo, AFlowForAnotherPairOrGridIsRefused) {
  PairFlow f = sample_flow(3, 5);
  check_pair_flow_matches(f, "p", f.target, f.reference, 3, 5, 0.25);
  expect_error([&] { check_pair_flow_matches(f, "p.st", f.reference, f.target, 3, 5, 0.25); },
               {"p.st", f.target, "expected"});
  expect_error([&] { check_pair_flow_matches(f, "p.st", f.target, f.reference, 4, 5, 0.25); }, {"p.st", "3x5", "4x5"});
  expect_error([&] { check_pair_flow_matches(f, "p.st", f.target, f.reference, 3, 5, 1.0); }, {"p.st", "0.25"});
}
