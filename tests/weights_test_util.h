// Helpers shared by the weights tests: a scratch directory, file bytes, error-message checks.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/io/raw_array.h"

namespace vps::test {

inline const std::string kPth = "tests/fixtures/pth/";
inline const std::string kNpy = "tests/fixtures/npy/";

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/vps_test_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path_ = ::mkdtemp(buf.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Runs fn, expects a vps::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no vps::Error thrown (expected one mentioning '" << (parts.empty() ? "" : parts[0]) << "')";
  } catch (const vps::Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// Runs fn on bytes and accepts success or vps::Error only; any other exception fails the test.
inline void expect_ok_or_vps_error(const std::function<void()>& fn, const std::string& context) {
  try {
    fn();
  } catch (const vps::Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << context << ": non-vps exception: " << e.what();
  }
}

inline RawArray make_array(DType t, std::vector<int64_t> shape, const std::vector<uint8_t>& data) {
  RawArray a;
  a.dtype = t;
  a.shape = std::move(shape);
  a.data = data;
  return a;
}

template <class T>
RawArray array_of(DType t, std::vector<int64_t> shape, const std::vector<T>& v) {
  std::vector<uint8_t> bytes(v.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
  return make_array(t, std::move(shape), bytes);
}

template <class T>
std::vector<T> values(const RawArray& a) {
  std::vector<T> v(a.data.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), a.data.data(), v.size() * sizeof(T));
  return v;
}

inline void expect_same_arrays(const NamedArrays& got, const NamedArrays& want, const std::string& context) {
  ASSERT_EQ(got.size(), want.size()) << context;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first) << context;
    EXPECT_EQ(got[i].second.dtype, want[i].second.dtype) << context << " " << want[i].first;
    EXPECT_EQ(got[i].second.shape, want[i].second.shape) << context << " " << want[i].first;
    EXPECT_EQ(got[i].second.data, want[i].second.data) << context << " " << want[i].first;
  }
}

}  // namespace vps::test
