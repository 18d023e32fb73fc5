#include <gtest/gtest.h>

#include "tensor/io/safetensors.h"
#include "tests/weights_test_util.h"

using namespace vps;
using namespace vps::test;

namespace {

NamedArrays all_dtypes() {
  NamedArrays a;
  a.emplace_back("w.f32", array_of<float>(DType::f32, {2, 3}, {1.5f, -2, 3, 4, 5, 6}));
  a.emplace_back("w.f64", array_of<double>(DType::f64, {2}, {1e300, -0.25}));
  a.emplace_back("w.f16", array_of<uint16_t>(DType::f16, {1, 2}, {0x3c00, 0xc000}));
  a.emplace_back("w.bf16", array_of<uint16_t>(DType::bf16, {2}, {0x3f80, 0x4049}));
  a.emplace_back("n.i64", array_of<int64_t>(DType::i64, {}, {7}));
  a.emplace_back("n.i32", array_of<int32_t>(DType::i32, {3}, {-1, 0, 1}));
  a.emplace_back("n.u8", array_of<uint8_t>(DType::u8, {3}, {0, 128, 255}));
  a.emplace_back("n.bool", array_of<uint8_t>(DType::b8, {2}, {1, 0}));
  a.emplace_back("empty", make_array(DType::f32, {0, 4}, {}));
  return a;
}

// A file with the given JSON header (no padding) and data block.
std::vector<uint8_t> raw_file(const std::string& header, const std::vector<uint8_t>& data) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char(uint64_t(header.size()) >> (8 * i));
  s += header;
  s.append(data.begin(), data.end());
  return bytes_of(s);
}

}  // namespace

TEST(PthSafetensors, RoundTripsEveryDtypeWithMetadata) {
  TempDir dir;
  std::string path = dir.file("a.safetensors");
  write_safetensors(path, all_dtypes(), {{"source", "test"}, {"note", "x\"y"}});
  SafetensorsFile f = read_safetensors(path);
  expect_same_arrays(f.arrays, all_dtypes(), "round trip");
  EXPECT_EQ(f.metadata.at("source"), "test");
  EXPECT_EQ(f.metadata.at("note"), "x\"y");
  std::vector<uint8_t> bytes = read_file_bytes(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[i]) << (8 * i);
  EXPECT_EQ(n % 8, 0u) << "header must be padded to a multiple of 8 bytes";
  EXPECT_EQ(bytes[8 + n - 1] == ' ' || bytes[8 + n - 1] == '}', true);
  EXPECT_EQ(dir.list().size(), 1u) << "no temp file left behind";
}

TEST(PthSafetensors, ReadsFilesOfIndependentWriters) {
  SafetensorsFile f = read_safetensors(kPth + "python_package.safetensors");  // the Python package itself
  ASSERT_EQ(f.arrays.size(), 3u);
  std::map<std::string, RawArray> by_name(f.arrays.begin(), f.arrays.end());
  EXPECT_EQ(values<float>(by_name.at("x")), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(by_name.at("b").dtype, DType::bf16);
  EXPECT_EQ(values<uint16_t>(by_name.at("b")), (std::vector<uint16_t>{0x3fc0, 0xc000}));
  EXPECT_EQ(by_name.at("z").shape, (std::vector<int64_t>{0}));
  EXPECT_EQ(f.metadata.at("k"), "v");
  SafetensorsFile g = read_safetensors(kPth + "state_expected.safetensors");  // the fixture script's writer
  EXPECT_EQ(g.arrays.size(), 20u);
  EXPECT_EQ(g.arrays[0].first, "0.weight") << "header order is kept";
}

TEST(PthSafetensors, RejectsBadFilesNamingFileAndTensor) {
  TempDir dir;
  std::string p = dir.file("bad.safetensors");
  auto check = [&](const std::vector<uint8_t>& bytes, std::vector<std::string> parts) {
    write_bytes(p, bytes);
    parts.push_back(p);
    expect_error([&] { read_safetensors(p); }, parts);
  };
  std::vector<uint8_t> d8(8, 0);
  std::vector<uint8_t> huge_len = raw_file("{}", {});
  huge_len[5] = 0x10;  // header length far beyond the file
  check(huge_len, {"header length"});
  check({1, 2, 3}, {"not a safetensors file"});
  check(raw_file(R"({"a":{"dtype":"F32",)", d8), {"bad JSON"});
  check(raw_file(R"([1,2])", d8), {"must be an object"});
  check(raw_file(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", d8), {"'a'", "unsupported dtype 'C64'"});
  check(raw_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", d8), {"'a'", "out of range"});
  check(raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8), {"'a'", "needs 12"});
  check(raw_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", d8), {"'a'", "non-negative"});
  check(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", d8),
        {"overlaps"});
  check(raw_file(R"({"a":{"dtype":"F32","shape":[1]}})", d8), {"'a'", "data_offsets"});
  check(raw_file(R"({"__metadata__":{"k":1}})", d8), {"__metadata__"});
  check(raw_file(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", d8), {"'a'"});
  // a valid file for contrast
  write_bytes(p, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8));
  EXPECT_EQ(read_safetensors(p).arrays.at(0).second.shape, (std::vector<int64_t>{2}));
}

TEST(PthSafetensors, EveryTruncationIsAnError) {
  TempDir dir;
  std::string path = dir.file("a.safetensors");
  write_safetensors(path, all_dtypes());
  std::vector<uint8_t> bytes = read_file_bytes(path);
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(parse_safetensors(bytes.data(), n, "cut"), vps::Error) << "length " << n;
  for (size_t i = 0; i < bytes.size(); ++i) {  // single-byte corruption: an error or a (different) valid file
    std::vector<uint8_t> b = bytes;
    b[i] ^= 0x5a;
    expect_ok_or_vps_error([&] { parse_safetensors(b.data(), b.size(), "flip"); }, "byte " + std::to_string(i));
  }
}

TEST(PthSafetensors, WriteErrorsLeaveNothingBehind) {
  TempDir dir;
  NamedArrays dup = all_dtypes();
  dup.push_back(dup[0]);
  expect_error([&] { write_safetensors(dir.file("d.safetensors"), dup); }, {"duplicate tensor name 'w.f32'"});
  NamedArrays wrong;
  wrong.emplace_back("x", make_array(DType::f32, {3}, {1, 2, 3, 4}));
  expect_error([&] { write_safetensors(dir.file("w.safetensors"), wrong); }, {"'x'", "needs 12"});
  expect_error([&] { write_safetensors(dir.file("no/such/dir.safetensors"), all_dtypes()); }, {"no/such/dir"});
  EXPECT_TRUE(dir.list().empty());
  // overwriting an existing file replaces it completely
  std::string p = dir.file("o.safetensors");
  write_safetensors(p, all_dtypes());
  write_safetensors(p, NamedArrays{{"y", array_of<float>(DType::f32, {1}, {2.f})}});
  EXPECT_EQ(read_safetensors(p).arrays.size(), 1u);
  EXPECT_EQ(dir.list().size(), 1u);
}

TEST(FileHelpers, DirOfIsTheFolderOfAPath) {
  EXPECT_EQ(dir_of("a/b/c.json"), "a/b");
  EXPECT_EQ(dir_of("c.json"), ".");
  EXPECT_EQ(dir_of("/c.json"), "/");
  EXPECT_EQ(dir_of("/a/c.json"), "/a");
  EXPECT_EQ(dir_of("./c.json"), ".");
}
