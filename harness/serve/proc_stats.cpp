#include "harness/serve/proc_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace alloclab::serve {

namespace {

std::string read_small(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Fields of /proc/PID/stat after the command name (which may hold spaces
// and parentheses, so the split starts after its last ')'). fields[0] is
// field 3 (state).
std::vector<std::string> stat_fields(pid_t pid) {
  std::string text = read_small("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  auto close = text.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(text.substr(close + 1));
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;
}

// A "Key:   1234 kB" line of a /proc status-like file, in KiB (0 if absent).
std::uint64_t kib_field(const std::string& text, const char* key) {
  std::string k = std::string("\n") + key + ":";
  auto at = text.find(k);
  if (at == std::string::npos) {
    if (text.rfind(std::string(key) + ":", 0) != 0) return 0;
    at = 0;
  } else {
    at += 1;
  }
  return std::strtoull(text.c_str() + at + std::strlen(key) + 1, nullptr, 10);
}

}  // namespace

std::vector<pid_t> group_members(pid_t pgid) {
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    auto f = stat_fields(static_cast<pid_t>(pid));
    // field 5 (pgrp) is fields[2]
    if (f.size() > 2 && std::atol(f[2].c_str()) == pgid) out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return out;
}

GroupStats group_stats(pid_t pgid) {
  GroupStats s;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (pid_t pid : group_members(pgid)) {
    auto f = stat_fields(pid);
    // fields[k] is field k+3: minflt 10, majflt 12, utime 14, stime 15,
    // cutime 16, cstime 17; cminflt 11, cmajflt 13.
    if (f.size() < 15) continue;
    ++s.processes;
    s.minor_faults += std::strtoull(f[7].c_str(), nullptr, 10) + std::strtoull(f[8].c_str(), nullptr, 10);
    s.major_faults += std::strtoull(f[9].c_str(), nullptr, 10) + std::strtoull(f[10].c_str(), nullptr, 10);
    s.user_s += (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[13].c_str(), nullptr)) / tick;
    s.sys_s += (std::strtod(f[12].c_str(), nullptr) + std::strtod(f[14].c_str(), nullptr)) / tick;
    std::string status = read_small("/proc/" + std::to_string(pid) + "/status");
    s.rss_kib += kib_field(status, "VmRSS");
    s.vm_hwm_kib += kib_field(status, "VmHWM");
  }
  return s;
}

std::uint64_t group_rss_kib(pid_t pgid) {
  static const std::uint64_t page_kib = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024;
  std::uint64_t total = 0;
  for (pid_t pid : group_members(pgid)) {
    std::string statm = read_small("/proc/" + std::to_string(pid) + "/statm");
    std::istringstream in(statm);
    std::uint64_t size = 0, resident = 0;
    if (in >> size >> resident) total += resident * page_kib;
  }
  return total;
}

GroupMemory group_memory(pid_t pgid) {
  GroupMemory m;
  for (pid_t pid : group_members(pgid)) {
    std::string rollup = read_small("/proc/" + std::to_string(pid) + "/smaps_rollup");
    m.pss_kib += kib_field(rollup, "Pss");
    m.anon_huge_kib += kib_field(rollup, "AnonHugePages");
    m.rss_kib += kib_field(rollup, "Rss");
  }
  return m;
}

std::string thp_mode() {
  std::string text = read_small("/sys/kernel/mm/transparent_hugepage/enabled");
  auto open = text.find('[');
  auto close = text.find(']', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) return "unknown";
  return text.substr(open + 1, close - open - 1);
}

}  // namespace alloclab::serve
