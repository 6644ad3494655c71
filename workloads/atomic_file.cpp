#include "workloads/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace alloclab {

namespace {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw WriteError(what + " " + path + ": " + std::strerror(err));
}

// A character device or FIFO takes the bytes as they come: no temporary.
void write_directly(const std::string& path, const std::string& target, const std::function<bool(int fd)>& write) {
  int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail("cannot open", path, errno);
  bool ok = write(fd);
  int err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (!ok) fail("cannot write", path, err ? err : EIO);
}

}  // namespace

bool write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::string resolve_output_path(const std::string& path) {
  std::string p = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
    char buf[PATH_MAX];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return p;
    std::string link(buf, static_cast<std::size_t>(n));
    p = link.front() == '/' ? link : dir_of(p) + "/" + link;
  }
  throw WriteError("cannot write " + path + ": too many levels of symbolic links");
}

void remove_stale_temporaries(const std::string& target) {
  std::string prefix = base_of(target) + ".tmp.";
  std::string dir = dir_of(target);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || *end != '.') continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

void write_atomically(const std::string& path, const std::function<bool(int fd)>& write) {
  std::string target = resolve_output_path(path);
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw WriteError("cannot write " + path + ": it is a directory");
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return write_directly(path, target, write);
    if (!S_ISREG(st.st_mode))
      throw WriteError("cannot write " + path + ": not a regular file, a character device or a FIFO");
  }
  remove_stale_temporaries(target);
  std::string tmp = target + ".tmp." + std::to_string(::getpid()) + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) fail("cannot create", path, errno);
  bool ok = write(fd);
  int err = errno;
  if (ok && ::fsync(fd) != 0) ok = false, err = errno;
  if (::fchmod(fd, 0644) != 0 && ok) ok = false, err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (ok && ::rename(tmp.c_str(), target.c_str()) != 0) ok = false, err = errno;
  if (!ok) {
    ::unlink(tmp.c_str());
    fail("cannot write", path, err ? err : EIO);
  }
}

void write_atomically(const std::string& path, std::string_view content) {
  write_atomically(path, [&](int fd) { return write_all(fd, content.data(), content.size()); });
}

}  // namespace alloclab
