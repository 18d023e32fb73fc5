#include "data/path_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "data/fs_util.h"
#include "tensor/check.h"

namespace vps::data {

namespace {

// The holder's line as it wrote it ("pid 123: vps infer ..."), or a note when it cannot be read.
std::string holder_of(int fd) {
  char buf[256] = {0};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, size_t(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s.empty() ? "a process that has not written its name yet" : s;
}

// "pid 123: vps infer --data d --out p" (the command line, cut at 200 characters).
std::string describe_this_process() {
  std::string line = "pid " + std::to_string(::getpid());
  int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return line;
  char buf[201] = {0};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  std::string cmd;
  for (ssize_t i = 0; i < n; ++i) cmd.push_back(buf[i] == '\0' ? ' ' : (buf[i] == '\n' ? ' ' : buf[i]));
  while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
  return cmd.empty() ? line : line + ": " + cmd;
}

}  // namespace

void PathLock::acquire(const std::string& path) {
  VPS_CHECK(fd_ < 0, "PathLock: acquired twice (", path, ")");
  const std::string file = path + ".lock";
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_dirs(path.substr(0, slash));  // as the writer would
  // A holder removes the file when done; one that opened it just before may then lock a removed file.
  // So after locking, the file must still be the one at the path, else try again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    VPS_CHECK(fd >= 0, "cannot create the lock file '", file, "' beside '", path, "': ", std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      std::string holder = holder_of(fd);
      ::close(fd);
      VPS_FAIL("'", path, "' is being written by another process (", holder, "; lock file ", file,
               "): one writer per output; wait for it or choose another folder");
    }
    struct stat a {}, b {};
    if (::fstat(fd, &a) == 0 && ::stat(file.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
      std::string line = describe_this_process() + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, line.data(), line.size(), 0) != ssize_t(line.size())) {
        // the lock holds without the name; a refused writer then reports an unnamed holder
      }
      fd_ = fd;
      file_ = file;
      return;
    }
    ::close(fd);
  }
  VPS_FAIL("cannot lock '", path, "': the lock file ", file, " keeps being replaced");
}

PathLock::~PathLock() {
  if (fd_ < 0) return;
  ::unlink(file_.c_str());  // while still locked: a waiting opener then finds it gone and starts over
  ::close(fd_);
}

}  // namespace vps::data
