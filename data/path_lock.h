// PathLock: one writer per output. The lock is an flock on `<path>.lock`, a small file beside the
// folder (the folder itself may not exist yet, and OutputDir swaps it by rename at commit, so a lock on
// the folder would not hold). The file names its holder (pid and command line), which a refused second
// writer reports. The kernel drops the lock when the holder exits, however it exits: a file left by a
// killed process is taken over by the next writer and removed when that one is done.
#pragma once
#include <string>

namespace vps::data {

class PathLock {
 public:
  PathLock() = default;
  // Locks `path` (creating its parent folders); throws vps::Error naming the path and the holder when another process (or another
  // PathLock of this one) holds it.
  explicit PathLock(const std::string& path) { acquire(path); }
  ~PathLock();
  PathLock(const PathLock&) = delete;
  PathLock& operator=(const PathLock&) = delete;
  void acquire(const std::string& path);  // once per PathLock
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::string file_;
};

}  // namespace vps::data
