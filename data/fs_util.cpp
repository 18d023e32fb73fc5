#include "data/fs_util.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tensor/check.h"
#include "tensor/io/raw_array.h"

namespace vps::data {

namespace fs = std::filesystem;

// Both delegate to the serialization layer's implementations (tensor/io/raw_array.h), which also fsync.
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

const std::string& checked_path_component(const std::string& name, const std::string& what) {
  bool bad = name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
             name.find("..") != std::string::npos || name.find('\0') != std::string::npos;
  VPS_CHECK(!bad, what, ": '", name.substr(0, 200), "' cannot be used as a file name (empty, or holds '/', '\\' or '..')");
  return name;
}

void remove_tree(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

void remove_stale_temporaries(const std::string& path) {
  fs::path p(path);
  if (p.filename().empty()) p = p.parent_path();
  std::string prefix = p.filename().string() + ".tmp.";
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (n.size() <= prefix.size() || n.compare(0, prefix.size(), prefix) != 0) continue;
    std::string pid = n.substr(prefix.size()), rest;  // <pid> or <pid>-old (OutputDir's previous folder)
    size_t digits = pid.find_first_not_of("0123456789");
    if (digits != std::string::npos) rest = pid.substr(digits), pid = pid.substr(0, digits);
    if (pid.empty() || pid.size() > 9 || !(rest.empty() || rest == "-old")) continue;
    pid_t owner = pid_t(std::stol(pid));
    if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code rec;
    fs::remove_all(it->path(), rec);
  }
}

void write_output_marker(const std::string& dir) {
  write_file_atomic(join_path(dir, kOutputMarker), std::string("an output folder of vps: --force may replace it\n"));
}

void check_replaceable(const std::string& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(dir, ec) || !fs::is_directory(dir, ec) || fs::is_empty(dir, ec)) return;
  VPS_CHECK(fs::exists(fs::path(dir) / kOutputMarker, ec), what, " '", dir, "' is not empty and was not written by vps (no ",
            kOutputMarker, " in it): --force replaces only folders vps made; choose another folder or empty it yourself");
}

void check_not_over_input(const std::string& out, const std::string& input, const std::string& what) {
  if (input.empty()) return;
  std::error_code ec;
  fs::path o = fs::weakly_canonical(fs::absolute(out), ec), in = fs::weakly_canonical(fs::absolute(input), ec);
  VPS_CHECK(!ec, what, " '", out, "': ", ec.message());
  for (fs::path p = in; !p.empty(); p = p.parent_path()) {
    VPS_CHECK(p != o, what, " '", out, "' is or holds the input '", input, "': writing there would destroy it");
    if (p == p.parent_path()) break;
  }
}

void check_free_disk(const std::string& dir, uint64_t bytes, const std::string& what) {
  std::error_code ec;
  const fs::space_info sp = fs::space(dir, ec);
  if (ec) return;  // unknown (an exotic file system): the writes themselves will say
  const double mb = 1024.0 * 1024.0;
  char need[64], have[64];
  std::snprintf(need, sizeof need, "%.1f MB", double(bytes) / mb);
  std::snprintf(have, sizeof have, "%.1f MB", double(sp.available) / mb);
  VPS_CHECK(sp.available >= bytes, what, ": needs at least ", need, " on disk and the file system of '", dir,
            "' has ", have, " free");
}

std::string check_output_location(const std::string& dir, const std::vector<std::string>& inputs,
                                  const std::string& what) {
  VPS_CHECK(!dir.empty(), what, ": empty path");
  std::error_code ec;
  fs::path target = fs::weakly_canonical(fs::absolute(dir), ec);
  VPS_CHECK(!ec, what, " '", dir, "': ", ec.message());
  while (!target.has_filename() && target.has_relative_path()) target = target.parent_path();  // "out/run/"
  fs::path cwd = fs::current_path(ec);
  bool protected_dir = target == target.root_path();
  for (fs::path c = cwd; !protected_dir && !c.empty(); c = c.parent_path()) {
    if (c == target) protected_dir = true;
    if (c == c.parent_path()) break;
  }
  VPS_CHECK(!protected_dir, what, " '", dir, "' is the root, the working directory or one of its parents");
  for (const std::string& in : inputs) check_not_over_input(dir, in, what);
  return target.string();
}

OutputDir::OutputDir(const std::string& dir, bool replace, const std::vector<std::string>& inputs)
    : dir_(dir), replace_(replace) {
  const fs::path target = check_output_location(dir, inputs, "output folder");
  lock_.acquire(target.string());  // before anything is checked or removed
  std::error_code ec;
  if (fs::exists(target, ec)) {
    VPS_CHECK(fs::is_directory(target, ec), "output folder '", dir, "' exists and is not a folder");
    bool empty = fs::is_empty(target, ec);
    VPS_CHECK(empty || replace, "output folder '", dir,
              "' exists and is not empty: choose another, or pass --force to replace it as a whole");
    if (!empty) check_replaceable(target.string(), "output folder");
  }
  dir_ = target.string();
  remove_stale_temporaries(dir_);
  tmp_ = dir_ + ".tmp." + std::to_string(::getpid());
  fs::remove_all(tmp_, ec);
  make_dirs(tmp_);
}

OutputDir::~OutputDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void OutputDir::commit() {
  VPS_CHECK(!committed_, "output folder '", dir_, "' committed twice");
  write_output_marker(tmp_);
  std::error_code ec;
  std::string old;
  if (fs::exists(dir_, ec) && !fs::is_empty(dir_, ec)) {  // it may have appeared while this command ran
    const bool ours = path_exists(join_path(dir_, kOutputMarker));
    if (!replace_ || !ours) {
      committed_ = true;  // the outputs stay where they are, named below
      VPS_FAIL("output folder '", dir_, "' was ", ours ? "filled" : "created", " by someone else while this command ran",
               " and is not replaced", replace_ ? " (it is not a vps output folder)" : " (no --force)",
               "; this command's outputs are in '", tmp_, "'");
    }
  }
  if (fs::exists(dir_, ec)) {  // empty, or replace was asked for
    old = tmp_ + "-old";
    fs::remove_all(old, ec);
    fs::rename(dir_, old, ec);
    VPS_CHECK(!ec, "cannot move the previous '", dir_, "' aside: ", ec.message());
  }
  fs::rename(tmp_, dir_, ec);
  if (ec) {
    std::error_code back;
    if (!old.empty()) fs::rename(old, dir_, back);
    VPS_FAIL("cannot move the new outputs into '", dir_, "': ", ec.message());
  }
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace vps::data
