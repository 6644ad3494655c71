#include "harness/run/context.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
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

nlohmann::json machine_context() {
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
