// Shared harness of the libFuzzer targets (fuzz/fuzz_*.cpp, built by `make fuzz`, see fuzz/fuzz.mk).
// A reader may refuse its input only with vps::Error (a message naming the file and the problem);
// any other exception escaping it, like a crash, a sanitizer report or a leak, is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::fuzz {

template <class F>
int guarded(F&& f) {
  try {
    f();
  } catch (const vps::Error&) {
    // a clean refusal
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: non-vps exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}

// A private scratch folder for targets whose reader takes paths (made once per process).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string t = (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + std::string("/vps-fuzz.XXXXXX");
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) std::abort();
    return std::string(buf.data());
  }();
  return dir;
}

// Splits the input at NUL bytes into at most `max_parts` parts (the fuzzer's way to make several files).
inline std::vector<std::string> split_parts(const uint8_t* data, size_t size, size_t max_parts) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0 && parts.size() < max_parts) parts.emplace_back();
    else parts.back().push_back(char(data[i]));
  }
  return parts;
}

inline void write_text(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

}  // namespace vps::fuzz
