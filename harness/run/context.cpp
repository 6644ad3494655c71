#include "harness/run/context.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <vector>
#include <string>
#include <thread>

namespace alloclab::run {

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string command_output(const std::string& cmd) {
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, f)) out += buf;
    ::pclose(f);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The revision of the source tree alloclab was built from, read now (the
// build may be older than the last commit), "-dirty" if it has changes.
std::string git_revision() {
#ifdef ALLOCLAB_SOURCE_DIR
  std::string dir = ALLOCLAB_SOURCE_DIR;
  std::string rev = command_output("git -C '" + dir + "' rev-parse HEAD 2>/dev/null");
  if (rev.empty()) return "unknown";
  std::string dirty = command_output("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null");
  return dirty.empty() ? rev : rev + "-dirty";
#else
  return "unknown";
#endif
}

std::string utc_now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::vector<int> usable_cpu_list() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The last-level cache as sysfs describes it: its level, size, and the CPU
// lists (kernel list format, "0-7") that share one, for the usable CPUs.
// The transparent-hugepage settings: the bracketed word of each sysfs file
// ("always", "madvise", "never", ...), "unknown" where absent.
nlohmann::json transparent_hugepages() {
  auto mode = [](const std::string& file) {
    std::string line = first_line("/sys/kernel/mm/transparent_hugepage/" + file);
    auto open = line.find('['), close = line.find(']');
    return open != std::string::npos && close != std::string::npos && close > open ? line.substr(open + 1, close - open - 1)
                                                                                     : std::string("unknown");
  };
  return {{"enabled", mode("enabled")}, {"defrag", mode("defrag")}};
}

nlohmann::json last_level_cache(const std::vector<int>& cpus) {
  int level = 0;
  std::string size;
  std::set<std::string> groups;
  for (int cpu : cpus) {
    std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cache/";
    int best = -1;
    std::string best_dir;
    for (int i = 0; i < 16; ++i) {
      std::string dir = base + "index" + std::to_string(i) + "/";
      std::string l = first_line(dir + "level");
      if (l.empty()) break;
      if (first_line(dir + "type") == "Instruction") continue;
      if (std::atoi(l.c_str()) > best) best = std::atoi(l.c_str()), best_dir = dir;
    }
    if (best < 0) continue;
    level = std::max(level, best);
    size = first_line(best_dir + "size");
    groups.insert(first_line(best_dir + "shared_cpu_list"));
  }
  if (groups.empty()) return nullptr;
  return {{"level", level}, {"size", size}, {"groups", std::vector<std::string>(groups.begin(), groups.end())}};
}

}  // namespace

nlohmann::json machine_context() {
  std::vector<int> cpus = usable_cpu_list();
  struct utsname u {};
  ::uname(&u);
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
#ifdef NDEBUG
  const char* build = "release";
#else
  const char* build = "debug";
#endif
  bool sanitized = false;
#if defined(__SANITIZE_ADDRESS__)
  sanitized = true;
#endif
  return {
      {"cpu_model", cpu_model()},
      {"cores_online", ::sysconf(_SC_NPROCESSORS_ONLN)},
      {"cores", usable_cores()},
      {"cpus", cpus},
      {"llc", last_level_cache(cpus)},
      {"thp", transparent_hugepages()},
      {"memory_bytes", pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0},
      {"kernel", std::string(u.sysname) + " " + u.release},
      {"machine", u.machine},
      {"compiler", std::string("g++ ") + __VERSION__},
      {"build", build},
      {"sanitized", sanitized},
      {"git_revision", git_revision()},
      {"date", utc_now()},
  };
}

}  // namespace alloclab::run
