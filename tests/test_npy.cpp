#include <gtest/gtest.h>

#include "tensor/io/npy.h"
#include "tests/weights_test_util.h"

using namespace vps;
using namespace vps::test;

TEST(PthNpy, ReadsNumpyFilesExactly) {
  RawArray f4 = read_npy(kNpy + "f4.npy");
  EXPECT_EQ(f4.dtype, DType::f32);
  EXPECT_EQ(f4.shape, (std::vector<int64_t>{3, 4}));
  std::vector<float> want;
  for (int i = 0; i < 12; ++i) want.push_back(float(i) / 7.0f);
  EXPECT_EQ(values<float>(f4), want);
  EXPECT_EQ(values<double>(read_npy(kNpy + "f8.npy")), (std::vector<double>{1.5, -2.25, 1e300}));
  RawArray f2 = read_npy(kNpy + "f2.npy");
  EXPECT_EQ(f2.dtype, DType::f16);
  std::vector<float> halves;
  for (uint16_t h : values<uint16_t>(f2)) halves.push_back(half_to_float(h));
  EXPECT_EQ(halves[0], 0.5f);
  EXPECT_EQ(halves[1], -1.0f);
  EXPECT_EQ(halves[2], 65504.0f);
  EXPECT_NEAR(halves[3], 1e-3f, 1e-6f);
  EXPECT_EQ(values<int64_t>(read_npy(kNpy + "i8.npy")), (std::vector<int64_t>{-(int64_t(1) << 62), 0, 5}));
  RawArray i4 = read_npy(kNpy + "i4.npy");
  EXPECT_EQ(i4.shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(values<int32_t>(i4), (std::vector<int32_t>{-1, 2}));
  EXPECT_EQ(values<uint8_t>(read_npy(kNpy + "u1.npy")), (std::vector<uint8_t>{0, 200, 255}));
  RawArray b1 = read_npy(kNpy + "b1.npy");
  EXPECT_EQ(b1.dtype, DType::b8);
  EXPECT_EQ(b1.shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(values<uint8_t>(b1), (std::vector<uint8_t>{1, 0, 1}));
  RawArray s = read_npy(kNpy + "scalar.npy");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(values<float>(s), (std::vector<float>{3.0f}));
  RawArray v2 = read_npy(kNpy + "v2.npy");  // format version 2.0
  EXPECT_EQ(values<int32_t>(v2), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

TEST(PthNpy, RefusesFortranOrderAndBigEndian) {
  expect_error([] { read_npy(kNpy + "fortran.npy"); }, {"fortran.npy", "fortran_order"});
  expect_error([] { read_npy(kNpy + "big_endian.npy"); }, {"big_endian.npy", "'>f4'"});
}

TEST(PthNpy, RoundTripsEveryDtype) {
  TempDir dir;
  std::vector<RawArray> arrays = {
      array_of<float>(DType::f32, {2, 2}, {1, 2, 3, 4}), array_of<double>(DType::f64, {1}, {0.1}),
      array_of<uint16_t>(DType::f16, {3}, {1, 2, 3}),   array_of<int64_t>(DType::i64, {}, {-9}),
      array_of<int32_t>(DType::i32, {1, 1, 2}, {5, 6}), array_of<uint8_t>(DType::u8, {2}, {0, 255}),
      array_of<uint8_t>(DType::b8, {0}, {})};
  for (size_t i = 0; i < arrays.size(); ++i) {
    std::string p = dir.file("a" + std::to_string(i) + ".npy");
    write_npy(p, arrays[i]);
    RawArray back = read_npy(p);
    EXPECT_EQ(back.dtype, arrays[i].dtype);
    EXPECT_EQ(back.shape, arrays[i].shape);
    EXPECT_EQ(back.data, arrays[i].data);
    EXPECT_EQ(read_file_bytes(p).size() % 64, arrays[i].data.size() % 64) << "data starts at a multiple of 64";
  }
  expect_error([&] { write_npy(dir.file("bf.npy"), array_of<uint16_t>(DType::bf16, {1}, {1})); }, {"bfloat16"});
  // a header longer than 64 KiB needs format 2.0
  RawArray many;
  many.dtype = DType::u8;
  many.shape.assign(30000, 1);
  many.data = {42};
  write_npy(dir.file("v2.npy"), many);
  EXPECT_EQ(read_file_bytes(dir.file("v2.npy"))[6], 2);
  EXPECT_EQ(read_npy(dir.file("v2.npy")).shape.size(), 30000u);
  EXPECT_EQ(dir.list().size(), arrays.size() + 1) << "no temp files";
}

TEST(PthNpy, TruncatedOrCorruptInputIsAnError) {
  std::vector<uint8_t> bytes = read_file_bytes(kNpy + "f4.npy");
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(parse_npy(bytes.data(), n, "cut.npy"), vps::Error) << "length " << n;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> b = bytes;
    b[i] ^= 0xff;
    expect_ok_or_vps_error([&] { parse_npy(b.data(), b.size(), "flip.npy"); }, "byte " + std::to_string(i));
  }
  std::vector<uint8_t> bad = bytes;
  bad[0] = 'X';
  expect_error([&] { parse_npy(bad.data(), bad.size(), "x.npy"); }, {"x.npy", "bad magic"});
  expect_error([&] { parse_npy(bytes.data(), 100, "t.npy"); }, {"t.npy", "truncated"});
}
