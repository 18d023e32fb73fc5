// Small file-system helpers shared by data/ and eval/: whole-file reads, atomic writes, directories.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vps::data {

// Reads a whole file; throws vps::Error naming the file when it cannot be opened or read.
std::vector<uint8_t> read_file_bytes(const std::string& path);
// Writes `bytes` to `path` atomically (path.tmp.<pid>, then rename); throws naming the file on failure.
void write_file_atomic(const std::string& path, const void* bytes, size_t size);
void write_file_atomic(const std::string& path, const std::string& text);
// Creates a directory and its parents (like mkdir -p); throws naming the directory on failure.
void make_dirs(const std::string& dir);
bool path_exists(const std::string& path);
// "a/b" + "c" -> "a/b/c" (no separator added when either side is empty or a ends with '/').
std::string join_path(const std::string& a, const std::string& b);
// Sorted plain file names (not paths) in `dir` ending with `suffix`; throws when dir is unreadable.
std::vector<std::string> list_files(const std::string& dir, const std::string& suffix);
// Removes a directory tree (used by tests and by writers cleaning up a failed output).
void remove_tree(const std::string& dir);

}  // namespace vps::data
