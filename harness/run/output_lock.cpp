#include "harness/run/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "harness/run/runner.hpp"
#include "workloads/atomic_file.hpp"

namespace alloclab::run {

OutputLock::OutputLock(const std::string& output) : path_(resolve_output_path(output) + ".lock") {
  // A device or a FIFO (-o /dev/null) keeps no file to protect, and no lock
  // file belongs beside it.
  struct stat target {};
  if (::stat(resolve_output_path(output).c_str(), &target) == 0 && (S_ISCHR(target.st_mode) || S_ISFIFO(target.st_mode)))
    return;
  // The file we lock must still be the one at path_: a holder that finished
  // may have removed it between our open and our flock (then we retry on the
  // new one), or we would share "the lock" with a third process.
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) throw RunError("cannot create the lock file " + path_ + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      char buf[32] = {};
      ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      ::close(fd);
      if (err != EWOULDBLOCK) throw RunError("cannot lock " + path_ + ": " + std::strerror(err));
      std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      throw RunError(output + " is being written by another alloclab run (pid " + holder + ", lock " + path_ +
                     "); wait for it to finish or choose another -o");
    }
    struct stat held {}, now {};
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // The pid is only for the message; the lock holds without it.
      }
      fd_ = fd;
      return;
    }
    ::close(fd);
  }
  throw RunError("cannot lock " + path_ + ": it keeps being replaced");
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding it: the next run creates a fresh one
  ::close(fd_);
}

}  // namespace alloclab::run
