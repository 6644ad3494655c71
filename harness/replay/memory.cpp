#include "harness/replay/memory.hpp"

#include <sys/resource.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace alloclab::replay {

RssProbe::RssProbe() : fd_(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC)), page_(::sysconf(_SC_PAGESIZE)) {}

RssProbe::~RssProbe() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t RssProbe::rss_bytes() const {
  if (fd_ < 0) return 0;
  char buf[128];
  ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = 0;
  // "size resident shared text lib data dt", in pages.
  char* p = buf;
  std::strtoull(p, &p, 10);
  std::uint64_t resident = std::strtoull(p, nullptr, 10);
  return resident * static_cast<std::uint64_t>(page_);
}

bool reset_peak_rss() {
  int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

std::uint64_t peak_rss_bytes() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return 0;
  char line[256];
  std::uint64_t kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmHWM:", 6) == 0) kb = std::strtoull(line + 6, nullptr, 10);
  std::fclose(f);
  return kb * 1024;
}

OsCounters os_counters() {
  OsCounters c;
  rusage u{};
  if (::getrusage(RUSAGE_SELF, &u) != 0) return c;
  c.minor_faults = static_cast<std::uint64_t>(u.ru_minflt);
  c.major_faults = static_cast<std::uint64_t>(u.ru_majflt);
  c.user_seconds = static_cast<double>(u.ru_utime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec) / 1e6;
  c.system_seconds = static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6;
  return c;
}

std::uint64_t anon_huge_bytes() {
  int fd = ::open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* at = std::strstr(buf, "\nAnonHugePages:");
  if (at == nullptr) return 0;
  return std::strtoull(at + 16, nullptr, 10) * 1024;
}

}  // namespace alloclab::replay
