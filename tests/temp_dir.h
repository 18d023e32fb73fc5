// A temporary directory for a test, removed with everything in it when the object goes out of scope.
#pragma once
#include <cstdlib>
#include <string>

#include "data/fs_util.h"

namespace vps::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vps_test_XXXXXX";
    char* p = ::mkdtemp(tmpl);
    path_ = p ? p : "/tmp/vps_test_fallback";
  }
  ~TempDir() { data::remove_tree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vps::test
