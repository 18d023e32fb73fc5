#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "tensor/io/raw_array.h"
#include "tensor/io/tensor_io.h"
#include "tests/gradcheck.h"
#include "tests/temp_dir.h"

using namespace vps;

TEST(TensorIo, SafetensorsRoundTripKeepsOrderDtypesAndViews) {
  vps::test::TempDir dir;
  Tensor a = vps::testing::rnd({2, 3}, 1, -1, 1, DType::f32);
  Tensor b = Tensor::arange(0, 12, 1, DType::i64).reshape({3, 4}).transpose(0, 1);  // non-contiguous
  Tensor c = Tensor::scalar(3, DType::f64);
  std::string path = dir.path() + "/t.safetensors";
  save_safetensors(path, {{"z.a", a}, {"b", b}, {"c", c}}, {{"k", "v"}});
  std::map<std::string, std::string> md;
  NamedTensors back = load_safetensors(path, kCPU, &md);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].first, "z.a");
  EXPECT_EQ(back[0].second.to_vector<float>(), a.to_vector<float>());
  EXPECT_EQ(back[1].second.shape(), (Shape{4, 3}));
  EXPECT_EQ(back[1].second.to_vector<int64_t>(), b.to_vector<int64_t>());
  EXPECT_EQ(back[2].second.dim(), 0);
  EXPECT_EQ(md.at("k"), "v");
}

TEST(TensorIo, NpyRoundTripAndMissingFileNamesThePath) {
  vps::test::TempDir dir;
  Tensor a = vps::testing::rnd({4, 1, 2}, 2);
  std::string path = dir.path() + "/a.npy";
  save_npy(path, a);
  EXPECT_EQ(load_npy(path).to_vector<double>(), a.to_vector<double>());
  try {
    load_npy(dir.path() + "/missing.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.npy"), std::string::npos) << e.what();
  }
}

// Every whole-file read is bounded: a link to /dev/zero, a FIFO and a folder are refused before any byte
// is read, and a file above the limit is refused naming its size and the limit; a file below is read.
TEST(TensorIo, WholeFileReadsAreBounded) {
  vps::test::TempDir d;
  std::string zero = d / "zero.json", fifo = d / "fifo.json", ten = d / "ten.bin";
  ASSERT_EQ(::symlink("/dev/zero", zero.c_str()), 0);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  vps::write_file_atomic(ten, {vps::ByteSpan{"0123456789", 10}});
  for (const std::string& p : {zero, fifo, std::string(d / "")}) {
    try {
      vps::read_file_bytes(p);
      ADD_FAILURE() << "read " << p;
    } catch (const vps::Error& e) {
      EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
  }
  try {
    vps::read_file_bytes(ten, 9);
    ADD_FAILURE() << "read past the limit";
  } catch (const vps::Error& e) {
    EXPECT_NE(std::string(e.what()).find("is 10 bytes, more than the 9 bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(vps::read_file_bytes(ten, 10).size(), 10u);
  EXPECT_EQ(vps::read_file_bytes(ten).size(), 10u);
}
