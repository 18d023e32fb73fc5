// Replays the fuzzers' seed corpora (fuzz/corpus/<target>/) and every input that once crashed a
// reader (fuzz/regressions/<target>/) through the same reader functions the libFuzzer binaries run
// (fuzz/targets.h): each must be read or refused with vps::Error, never crash or throw anything else.
#include <gtest/gtest.h>

#include <exception>
#include <string>

#include "data/fs_util.h"
#include "fuzz/targets.h"

namespace {

int replay(const vps::fuzz::Target& t, const std::string& dir) {
  if (!vps::data::path_exists(dir)) return 0;
  int n = 0;
  for (const std::string& name : vps::data::list_files(dir, "")) {
    std::string f = vps::data::join_path(dir, name);
    std::vector<uint8_t> bytes = vps::data::read_file_bytes(f);
    try {
      t.run(bytes.data(), bytes.size());
    } catch (const vps::Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << t.name << " on " << f << ": non-vps exception: " << e.what();
    }
    ++n;
  }
  return n;
}

}  // namespace

TEST(FuzzRegressions, SeedsAndFoundInputsAreReadOrRefused) {
  int seeds = 0;
  for (const auto& t : vps::fuzz::targets()) {
    int n = replay(t, std::string("fuzz/corpus/") + t.name);
    EXPECT_GT(n, 0) << "no seeds for fuzz target " << t.name;
    seeds += n;
    replay(t, std::string("fuzz/regressions/") + t.name);
  }
  EXPECT_GT(seeds, 0);
}
