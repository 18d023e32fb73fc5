// Test helper: runs the `vps` command line in-process (vps::cli::run_main, the code of the binary's
// main) and captures its exit code, stdout and stderr.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tools/command.h"

namespace vps::test {

struct CliResult {
  int rc = -1;
  std::string out, err;
};

inline std::string slurp_and_close(std::FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  std::fclose(f);
  return s;
}

inline CliResult vps_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "vps");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  CliResult r;
  r.rc = vps::cli::run_main(int(argv.size()), argv.data(), out, err);
  r.out = slurp_and_close(out);
  r.err = slurp_and_close(err);
  return r;
}

// Output checks of the CLI tests: a substring, the lines of a file (a JSON-lines log), its text.
inline bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
inline std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}
// The whole text of a file (for failure messages: a missing file reads as "(no PATH)").
inline std::string text_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "(no " + path + ")";
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
// The path of this test binary (the tests that start processes: mpirun, the scripts next to `vps`).
inline std::string self_exe() {
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  return std::string(exe, n > 0 ? size_t(n) : 0);
}

}  // namespace vps::test
