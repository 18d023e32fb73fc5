#include "data/fs_util.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tensor/check.h"
#include "tensor/raw_array.h"

namespace vps::data {

namespace fs = std::filesystem;

// Both delegate to the serialization layer's implementations (tensor/raw_array.h), which also fsync.
std::vector<uint8_t> read_file_bytes(const std::string& path) { return vps::read_file_bytes(path); }

void write_file_atomic(const std::string& path, const void* bytes, size_t size) {
  vps::write_file_atomic(path, {vps::ByteSpan{bytes, size}});
}

void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  VPS_CHECK(!ec && fs::is_directory(dir), "cannot create directory '", dir, "': ", ec.message());
}

bool path_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a.back() == '/' ? a + b : a + "/" + b;
}

std::vector<std::string> list_files(const std::string& dir, const std::string& suffix) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.push_back(n);
  }
  VPS_CHECK(!ec, "cannot list directory '", dir, "': ", ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

void remove_tree(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace vps::data
