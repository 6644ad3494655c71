// One writer per results file: `alloclab run -o FILE` holds an advisory
// lock (flock) on FILE.lock, beside the file, for as long as it runs, so a
// second run on the same output stops at once (exit 2) instead of both
// rewriting the file and one losing the other's cells. The lock file holds
// the owner's pid for the message; the kernel drops the lock when the owner
// dies, however it dies, so a stale FILE.lock is simply taken over.
#pragma once

#include <string>

namespace alloclab::run {

class OutputLock {
 public:
  // Throws RunError naming the holder's pid when another process holds it,
  // or when the lock file cannot be created.
  explicit OutputLock(const std::string& output);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace alloclab::run
