#include "workloads/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace alloclab {

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

void write_atomically(const std::string& path, const std::function<bool(int fd)>& write) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw WriteError("cannot create " + path + ": " + std::strerror(errno));
  bool ok = write(fd);
  int err = errno;
  if (ok && ::fsync(fd) != 0) ok = false, err = errno;
  if (::fchmod(fd, 0644) != 0 && ok) ok = false, err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  if (!ok) {
    ::unlink(tmp.c_str());
    throw WriteError("cannot write " + path + ": " + std::strerror(err));
  }
}

void write_atomically(const std::string& path, std::string_view content) {
  write_atomically(path, [&](int fd) { return write_all(fd, content.data(), content.size()); });
}

}  // namespace alloclab
