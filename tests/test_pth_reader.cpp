#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "tensor/io/pth_reader.h"
#include "tensor/io/safetensors.h"
#include "tensor/io/unpickler.h"
#include "tests/weights_test_util.h"

using namespace vps;
using namespace vps::test;

namespace {
const RawArray& get(const NamedArrays& a, const std::string& name) {
  for (const auto& [n, arr] : a)
    if (n == name) return arr;
  throw std::runtime_error("no array " + name);
}
}  // namespace

TEST(PthReader, EveryDtypeExactFromBothFormats) {
  NamedArrays want = read_safetensors(kPth + "state_expected.safetensors").arrays;
  for (const char* f : {"state_zip.pth", "state_legacy.pth", "state_deflate.pth", "state_zip64.pth"}) {
    PthCheckpoint ck = read_pth(kPth + f);
    expect_same_arrays(ck.arrays, want, f);
    EXPECT_EQ(ck.source_key, "") << f;
    EXPECT_TRUE(ck.meta_json.empty()) << f;
  }
}

TEST(PthReader, SharedStorageViewComesOutContiguous) {
  for (const char* f : {"state_zip.pth", "state_legacy.pth"}) {
    NamedArrays a = read_pth(kPth + f).arrays;
    // big = arange(30).reshape(5, 6); view_t = big[1:4, 2:5].t()  (storage offset 8, strides (1, 6))
    EXPECT_EQ(values<float>(get(a, "view_t")), (std::vector<float>{8, 14, 20, 9, 15, 21, 10, 16, 22})) << f;
    EXPECT_EQ(values<float>(get(a, "big"))[29], 29.0f) << f;
    EXPECT_EQ(values<int32_t>(get(a, "i16")), (std::vector<int32_t>{-32768, 5, 32767})) << f;  // widened
    EXPECT_EQ(get(a, "scalar").shape, std::vector<int64_t>{}) << f;
    EXPECT_EQ(get(a, "empty").shape, (std::vector<int64_t>{0, 3})) << f;
  }
}

TEST(PthReader, TypedStorageForms) {
  expect_same_arrays(read_pth(kPth + "typed_forms.pth").arrays,
                     read_safetensors(kPth + "typed_forms_expected.safetensors").arrays, "typed_forms");
}

TEST(PthReader, MmcvWrapperModulePrefixKeyAndMeta) {
  NamedArrays want = read_safetensors(kPth + "mmcv_expected.safetensors").arrays;
  auto meta_want = nlohmann::json::parse(read_file_bytes(kPth + "mmcv_meta.json"));
  for (const char* f : {"mmcv_zip.pth", "mmcv_legacy.pth"}) {
    std::string path = kPth + f;
    PthCheckpoint ck = read_pth(path);
    EXPECT_EQ(ck.source_key, "state_dict") << f;
    expect_same_arrays(ck.arrays, want, f);
    EXPECT_EQ(nlohmann::json::parse(ck.meta_json), meta_want) << f << ": " << ck.meta_json;

    PthOptions keep;
    keep.strip_module = false;
    keep.select_key = "state_dict";
    NamedArrays raw = read_pth(path, keep).arrays;
    EXPECT_EQ(raw.at(0).first, "module.backbone.conv1.weight") << f;

    PthOptions prefix;
    prefix.prefix_filter = "backbone.";
    NamedArrays bb = read_pth(path, prefix).arrays;
    ASSERT_EQ(bb.size(), 2u) << f;
    EXPECT_EQ(bb[1].first, "backbone.bn1.num_batches_tracked") << f;
    EXPECT_EQ(values<int64_t>(bb[1].second), std::vector<int64_t>{7}) << f;

    PthOptions missing;
    missing.select_key = "weights";
    expect_error([&] { read_pth(path, missing); }, {path, "no entry 'weights'", "'meta'", "'state_dict'"});
    PthOptions not_dict;
    not_dict.select_key = "optimizer";
    expect_error([&] { read_pth(path, not_dict); }, {"'optimizer' is a None"});
  }
}

TEST(PthReader, MaliciousPicklesAreRefusedWithoutRunningCode) {
  std::remove("/tmp/vps_pwned");
  expect_error([] { read_pth(kPth + "evil_legacy.pth"); }, {"evil_legacy.pth", "refusing global 'posix.system'"});
  expect_error([] { read_pth(kPth + "evil_zip.pth"); }, {"evil_zip.pth", "eval'"});
  EXPECT_FALSE(std::filesystem::exists("/tmp/vps_pwned"));
}

TEST(PthReader, ShortStorageAndBadMagic) {
  expect_error([] { read_pth(kPth + "short_storage.pth"); }, {"short_storage.pth", "tensor 'w'", "holds only 5"});
  std::vector<uint8_t> b = read_file_bytes(kPth + "state_legacy.pth");
  b[4] ^= 1;  // inside the LONG1 magic number
  expect_error([&] { parse_pth(b.data(), b.size(), "m.pth"); }, {"m.pth", "bad magic number"});
  std::vector<uint8_t> text = bytes_of("hello world, not a checkpoint");
  expect_error([&] { parse_pth(text.data(), text.size(), "t.pth"); }, {"t.pth", "not a PyTorch checkpoint"});
  expect_error([] { read_pth(kPth + "does_not_exist.pth"); }, {"does_not_exist.pth", "cannot open"});
}

TEST(PthReader, EveryTruncationIsAnError) {
  for (const char* f : {"state_legacy.pth", "mmcv_zip.pth", "state_zip64.pth", "state_deflate.pth"}) {
    std::vector<uint8_t> bytes = read_file_bytes(kPth + f);
    for (size_t n = 0; n < bytes.size(); ++n)
      EXPECT_THROW(parse_pth(bytes.data(), n, f), vps::Error) << f << " cut at " << n;
  }
}

TEST(PthReader, CorruptBytesGiveErrorsNotCrashes) {
  std::mt19937 rng(1234);
  for (const char* f : {"state_legacy.pth", "mmcv_legacy.pth", "state_zip.pth", "mmcv_zip.pth"}) {
    std::vector<uint8_t> bytes = read_file_bytes(kPth + f);
    for (size_t i = 0; i < bytes.size(); ++i) {  // every single-byte flip
      std::vector<uint8_t> b = bytes;
      b[i] ^= 0xff;
      expect_ok_or_vps_error([&] { parse_pth(b.data(), b.size(), f); }, std::string(f) + " byte " + std::to_string(i));
    }
    for (int k = 0; k < 300; ++k) {  // random multi-byte damage
      std::vector<uint8_t> b = bytes;
      for (int j = 0; j < 4; ++j) b[rng() % b.size()] = uint8_t(rng());
      expect_ok_or_vps_error([&] { parse_pth(b.data(), b.size(), f); }, std::string(f) + " random");
    }
  }
}

// Hand-written pickles for the unpickler's own rules.
namespace {
ObjId unpickle(Unpickler& u, const std::string& bytes) {
  ByteReader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.pkl");
  return u.load(r);
}
}  // namespace

TEST(PthUnpickler, RefusesUnknownOpcodesAndGlobals) {
  Unpickler u("test.pkl", {});
  expect_error([&] { unpickle(u, "\x80\x02" "cos\nsystem\n."); }, {"refusing global 'os.system'", "0x63 'c'"});
  expect_error([&] { unpickle(u, "\x80\x04\x8c\x08" "builtins" "\x8c\x04" "exec" "\x93."); },
               {"refusing global 'builtins.exec'"});
  expect_error([&] { unpickle(u, "(S'x'\ni__main__\nEvil\n."); }, {"unsupported opcode"});    // proto 0 STRING
  expect_error([&] { unpickle(u, "\x80\x02" "\x82\x01."); }, {"0x82", "unsupported opcode"});  // EXT1
  expect_error([&] { unpickle(u, "\x80\x02h\x05."); }, {"memo index 5"});
  expect_error([&] { unpickle(u, "\x80\x02s."); }, {"stack underflow"});
  expect_error([&] { unpickle(u, "\x80\x02" "ctorch\nFloatStorage\n)R."); }, {"'torch.FloatStorage' cannot be called"});
  expect_error([&] { unpickle(u, "\x80\x02}"); }, {"truncated"});
}

TEST(PthUnpickler, ValuesAndJson) {
  Unpickler u("test.pkl", {});
  // {'a': [1, -2, 3.5, None, True], 'b': 'x', 'big': 2**80}
  using namespace std::string_literals;
  std::string p = "\x80\x02}(X\x01\0\0\0a]q\x00(K\x01J\xfe\xff\xff\xffG\x40\x0c\0\0\0\0\0\0N\x88"
                  "eX\x01\0\0\0bX\x01\0\0\0xX\x03\0\0\0big\x8a\x0b\0\0\0\0\0\0\0\0\0\0\x01u."s;
  ObjId root = unpickle(u, p);
  auto j = u.to_json(root, nullptr);
  EXPECT_EQ(j["a"], nlohmann::ordered_json::parse("[1, -2, 3.5, null, true]"));
  EXPECT_EQ(j["b"], "x");
  EXPECT_TRUE(j["big"].is_object());
  // a list that contains itself: JSON conversion stops with an error instead of recursing forever
  ObjId cyc = unpickle(u, "\x80\x02]q\x00h\x00" "a."s);
  expect_error([&] { u.to_json(cyc, nullptr); }, {"nested more than 100 levels"});
}
