#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tensor/io/convert.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/weights_file.h"
#include "tests/weights_test_util.h"

using namespace vps;
using namespace vps::test;

TEST(PthConvert, MmcvCheckpointToSafetensorsWithMetadata) {
  TempDir dir;
  NamedArrays want = read_safetensors(kPth + "mmcv_expected.safetensors").arrays;
  for (const char* f : {"mmcv_legacy.pth", "mmcv_zip.pth"}) {
    std::string out = dir.file(std::string(f) + ".safetensors");
    ConvertSummary s = convert_weights(kPth + f, out, {});
    EXPECT_EQ(s.tensors, want.size());
    SafetensorsFile got = read_safetensors(out);
    expect_same_arrays(got.arrays, want, f);
    EXPECT_EQ(got.metadata.at("source"), kPth + f);
    EXPECT_EQ(got.metadata.at("tool"), "vps 0.1");
    const std::string& t = got.metadata.at("converted_at");  // 2024-05-01T12:00:00Z
    ASSERT_EQ(t.size(), 20u) << t;
    for (size_t i : {4, 7}) EXPECT_EQ(t[i], '-') << t;
    EXPECT_EQ(t[10], 'T');
    EXPECT_EQ(t[13], ':');
    EXPECT_EQ(t[19], 'Z');
    EXPECT_EQ(nlohmann::json::parse(got.metadata.at("meta")),
              nlohmann::json::parse(read_file_bytes(kPth + "mmcv_meta.json")));
    ConvertOptions by_key;
    by_key.key = "state_dict";
    convert_weights(kPth + f, out, by_key);
    expect_same_arrays(read_safetensors(out).arrays, want, std::string(f) + " --key");
  }
}

TEST(PthConvert, RenameRulesRefuseHugeNamesInsteadOfOverflowingTheStack) {
  // std::regex recursed once per character: a 40,000-character key crashed `vps convert --rename`.
  NamedArrays arrays;
  RawArray a;
  a.dtype = DType::f32;
  a.shape = {1};
  a.data.assign(4, 0);
  arrays.emplace_back(std::string(40000, 'a'), a);
  std::vector<std::pair<std::string, std::string>> rules = {{"^(a*)b$", "$1"}};
  try {
    rename_arrays(&arrays, rules);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("40000 characters"), std::string::npos) << e.what();
  }
  arrays.front().first = std::string(1000, 'a') + "b";  // under the bound: matched as before
  rename_arrays(&arrays, rules);
  EXPECT_EQ(arrays.front().first, std::string(1000, 'a'));
}

TEST(PthConvert, PrefixRenameAndDtype) {
  TempDir dir;
  std::string map = dir.file("map.json");
  write_bytes(map, bytes_of(R"J({"^backbone\\.": "body.", "conv(\\d)": "stem$1", "\\.weight$": ".w"})J"));
  ConvertOptions opt;
  opt.prefix = "backbone.";
  opt.renames = read_rename_map(map);
  std::string out = dir.file("o.safetensors");
  convert_weights(kPth + "mmcv_legacy.pth", out, opt);
  NamedArrays got = read_safetensors(out).arrays;
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, "body.stem1.w");
  EXPECT_EQ(got[1].first, "body.bn1.num_batches_tracked");

  ConvertOptions f32;
  f32.to_f32 = true;
  convert_weights(kPth + "mmcv_zip.pth", out, f32);
  NamedArrays a = read_safetensors(out).arrays;
  NamedArrays want = read_safetensors(kPth + "mmcv_expected.safetensors").arrays;
  const RawArray& half = want[3].second;
  ASSERT_EQ(half.dtype, DType::f16);
  EXPECT_EQ(a[3].second.dtype, DType::f32);
  std::vector<float> h = values<float>(a[3].second);
  std::vector<uint16_t> raw = values<uint16_t>(half);
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_EQ(h[i], half_to_float(raw[i]));
  EXPECT_EQ(a[1].second.dtype, DType::i64) << "integers are kept";
}

TEST(PthConvert, SafetensorsInputIsRefilteredAndRenamed) {
  TempDir dir;
  std::string out = dir.file("o.safetensors"), out2 = dir.file("o2.safetensors");
  convert_weights(kPth + "mmcv_zip.pth", out, {});
  ConvertOptions opt;
  opt.prefix = "neck.";
  opt.renames = {{"^neck", "fpn"}};
  convert_weights(out, out2, opt);
  SafetensorsFile f = read_safetensors(out2);
  ASSERT_EQ(f.arrays.size(), 1u);
  EXPECT_EQ(f.arrays[0].first, "fpn.lateral_convs.0.conv.bias");
  EXPECT_EQ(f.metadata.at("source"), out);
  EXPECT_EQ(f.metadata.count("meta"), 1u) << "metadata of a safetensors input is carried over";
}

TEST(PthConvert, FailuresWriteNoOutput) {
  TempDir dir;
  std::string out = dir.file("out.safetensors");
  expect_error([&] { convert_weights(kPth + "evil_legacy.pth", out, {}); }, {"posix.system"});
  expect_error([&] { convert_weights(kPth + "short_storage.pth", out, {}); }, {"'w'"});
  ConvertOptions nothing;
  nothing.prefix = "head.";
  expect_error([&] { convert_weights(kPth + "mmcv_zip.pth", out, nothing); }, {"no tensors left", "'head.'"});
  ConvertOptions clash;
  clash.renames = {{"^.*$", "same"}};
  expect_error([&] { convert_weights(kPth + "mmcv_zip.pth", out, clash); }, {"to 'same'"});
  ConvertOptions bad_re;
  bad_re.renames = {{"([", "x"}};
  expect_error([&] { convert_weights(kPth + "mmcv_zip.pth", out, bad_re); }, {"'(['", "invalid regular expression"});
  ConvertOptions key_on_st;
  key_on_st.key = "state_dict";
  expect_error([&] { convert_weights(kPth + "state_expected.safetensors", out, key_on_st); }, {"--key"});
  std::vector<uint8_t> cut = read_file_bytes(kPth + "mmcv_zip.pth");
  cut.resize(cut.size() / 2);
  write_bytes(dir.file("cut.pth"), cut);
  expect_error([&] { convert_weights(dir.file("cut.pth"), out, {}); }, {"cut.pth"});
  expect_error([&] { convert_weights(kPth + "mmcv_zip.pth", dir.file("missing/out.safetensors"), {}); },
               {"missing/out.safetensors"});
  write_bytes(dir.file("map.json"), bytes_of("{\"a\": 1"));
  expect_error([&] { read_rename_map(dir.file("map.json")); }, {"map.json", "bad JSON"});
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"cut.pth", "map.json"}) ) << "no output or temp file left";
}

TEST(PthInspect, ListsEveryFormatWithTotals) {
  std::string a = describe_weights("s", load_weights(kPth + "state_zip.pth"));
  EXPECT_NE(a.find("pytorch (zip), 20 tensors"), std::string::npos) << a;
  EXPECT_NE(a.find("view_t"), std::string::npos);
  EXPECT_NE(a.find("total: 20 tensors, 97 elements, 394 bytes"), std::string::npos) << a;
  std::string b = describe_weights("m", load_weights(kPth + "mmcv_legacy.pth"));
  EXPECT_NE(b.find("pytorch (legacy)"), std::string::npos);
  EXPECT_NE(b.find("metadata meta: {\"mmdet_version\""), std::string::npos) << b;
  WeightsFile n = load_weights(kNpy + "i4.npy");
  EXPECT_EQ(n.format, WeightFormat::npy);
  EXPECT_EQ(n.arrays.at(0).first, "i4");
  EXPECT_EQ(load_weights(kPth + "state_expected.safetensors").format, WeightFormat::safetensors);
  std::vector<uint8_t> junk = bytes_of("garbage that is no weights file");
  TempDir dir;
  write_bytes(dir.file("junk.bin"), junk);
  expect_error([&] { load_weights(dir.file("junk.bin")); }, {"junk.bin", "unknown file format"});
}

TEST(PthCompareKeys, ReportsMissingUnexpectedAndMisshaped) {
  NamedArrays file;
  file.emplace_back("a.weight", make_array(DType::f32, {2, 3}, std::vector<uint8_t>(24)));
  file.emplace_back("a.bias", make_array(DType::f32, {2}, std::vector<uint8_t>(8)));
  file.emplace_back("extra", make_array(DType::f32, {1}, std::vector<uint8_t>(4)));
  std::map<std::string, std::vector<int64_t>> expected = {{"a.weight", {3, 2}}, {"a.bias", {2}}, {"b.weight", {4}}};
  KeyReport r = compare_keys(file, expected);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.missing, std::vector<std::string>{"b.weight"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"extra"});
  ASSERT_EQ(r.mismatched.size(), 1u);
  EXPECT_EQ(r.mismatched[0].name, "a.weight");
  std::string text = r.to_string();
  EXPECT_NE(text.find("shape mismatch: a.weight file [2, 3] expected [3, 2]"), std::string::npos) << text;
  EXPECT_NE(text.find("1 missing, 1 unexpected, 1 mis-shaped"), std::string::npos) << text;
  file.pop_back();
  KeyReport ok = compare_keys(file, {{"a.weight", {2, 3}}, {"a.bias", {2}}});
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.to_string(), "all keys match");
}
