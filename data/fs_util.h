// Small file-system helpers shared by data/ and eval/: whole-file reads, atomic writes, directories.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/path_lock.h"

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
// A name taken from an input file (an image id, a file name) that becomes part of a path we read or
// write: refused when empty, absolute, or holding '/', '\\', "..", or a NUL byte, so that no input
// can reach outside the folder it is joined to. `what` names the file and key for the message.
const std::string& checked_path_component(const std::string& name, const std::string& what);
// Refuses (naming `what`, both sizes and the folder) to start writing about `bytes` into `dir` when the
// file system holding it has less free space: better at once than after minutes of work.
void check_free_disk(const std::string& dir, uint64_t bytes, const std::string& what);
// Removes a directory tree (used by tests and by writers cleaning up a failed output).
void remove_tree(const std::string& dir);

// Removes `<name>.tmp.<pid>` (and `<name>.tmp.<pid>-old`) files and folders beside `path` (name = its last component) left by a
// process that no longer runs: what a killed write leaves behind. Our own live temporaries stay.
void remove_stale_temporaries(const std::string& path);

// The file every output folder of vps holds (written by OutputDir and by vps train's run folder):
// --force replaces a non-empty folder only when it holds this marker, so it never deletes a folder
// that vps did not make (a dataset, a home directory, `.`).
constexpr const char* kOutputMarker = ".vps-output";
void write_output_marker(const std::string& dir);
// Refuses (naming `what`) a non-empty `dir` without the marker; an empty or missing one passes.
void check_replaceable(const std::string& dir, const std::string& what);
// Refuses an output folder that is an input or holds one (replacing it would delete the input).
void check_not_over_input(const std::string& out, const std::string& input, const std::string& what);
// Both checks an output folder needs before anything is written: not the root, the working directory or
// one of its parents, and not over any of `inputs`. Returns the folder's absolute, normalised path.
std::string check_output_location(const std::string& dir, const std::vector<std::string>& inputs,
                                  const std::string& what);

// A folder of outputs written as one set: everything goes into a temporary sibling folder
// (<dir>.tmp.<pid>) and commit() renames it into place, so a failure leaves the previous folder or
// nothing, never old and new files mixed. An existing non-empty <dir> is refused unless `replace`
// (the commands' --force), which swaps the whole folder at commit() and is refused for a folder
// without the marker (one vps did not make) or one that is or holds one of `inputs`; the root, the
// working directory and its parents are never replaced. commit() writes the marker. One writer per
// folder: the constructor locks it (data/path_lock.h) until destruction, and commit() replaces nothing
// that appeared meanwhile without the marker (its outputs then stay in the temporary folder, named).
class OutputDir {
 public:
  OutputDir(const std::string& dir, bool replace, const std::vector<std::string>& inputs = {});
  ~OutputDir();  // removes the temporary folder unless committed
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;
  const std::string& path() const { return tmp_; }  // where to write
  const std::string& final_path() const { return dir_; }
  void commit();

 private:
  std::string dir_, tmp_;
  bool replace_ = false, committed_ = false;
  PathLock lock_;
};

}  // namespace vps::data
