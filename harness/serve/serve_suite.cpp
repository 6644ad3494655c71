#include "harness/serve/serve_suite.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "harness/run/compare.hpp"
#include "harness/run/context.hpp"
#include "harness/run/progress.hpp"
#include "harness/serve/open_loop.hpp"
#include "harness/serve/proc_stats.hpp"
#include "harness/worker_process.hpp"

extern char** environ;

namespace alloclab::serve {

namespace fs = std::filesystem;
using nlohmann::json;

volatile std::sig_atomic_t g_stop_signal = 0;

namespace {

std::atomic<bool> g_stop_flag{false};  // the same, for run_worker's cancel

// Process groups to kill on a signal: servers, the upstream, wrk.
constexpr int kSlots = 8;
std::atomic<pid_t> g_groups[kSlots];

void on_stop(int sig) {
  for (auto& g : g_groups) {
    pid_t pgid = g.load();
    if (pgid > 0) ::kill(-pgid, SIGKILL);
  }
  g_stop_signal = sig;
  g_stop_flag.store(true);
}

void track(pid_t pgid) {
  for (auto& g : g_groups) {
    pid_t expected = 0;
    if (g.compare_exchange_strong(expected, pgid)) return;
  }
}

void untrack(pid_t pgid) {
  for (auto& g : g_groups) {
    pid_t expected = pgid;
    if (g.compare_exchange_strong(expected, 0)) return;
  }
}

bool stopping() { return g_stop_signal != 0; }

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sleep_s(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::string read_text(const std::string& path, std::size_t limit = 1 << 20) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string s(limit, '\0');
  in.read(s.data(), static_cast<std::streamsize>(limit));
  s.resize(static_cast<std::size_t>(in.gcount()));
  return s;
}

// The last lines of a log, printable characters only, for a failure record.
std::string tail_of(const std::string& path, std::size_t lines = 5) {
  std::string text = read_text(path);
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string clean;
    for (unsigned char c : line) clean += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    if (!clean.empty()) out.push_back(clean);
  }
  std::string s;
  for (std::size_t i = out.size() > lines ? out.size() - lines : 0; i < out.size(); ++i) s += (s.empty() ? "" : " | ") + out[i];
  return s.empty() ? "(empty log)" : s;
}

// The tails of a server's error log and stderr, whichever hold something.
std::string logs_tail(const Launch& l) {
  std::string s;
  for (const auto& path : {l.error_log, l.stderr_path}) {
    std::string t = tail_of(path);
    if (t != "(empty log)" && s.find(t) == std::string::npos) s += (s.empty() ? "" : " | ") + t;
    if (path == l.stderr_path && l.error_log == l.stderr_path) break;
  }
  return s.empty() ? "(its logs are empty)" : s;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

// One GET on a fresh connection: whether it answered 200.
bool answers(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[64];
      ssize_t n = ::recv(fd, buf, sizeof(buf) - 1, 0);
      if (n > 12) {
        buf[n] = '\0';
        ok = std::strncmp(buf, "HTTP/1.", 7) == 0 && std::strncmp(buf + 9, "200", 3) == 0;
      }
    }
  }
  ::close(fd);
  return ok;
}

std::string self_dir() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).parent_path().string();
}

std::string self_exe() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

std::string whoami_library() {
  for (const auto& p : {self_dir() + "/liballoclab_whoami.so", self_dir() + "/../lib/liballoclab_whoami.so"}) {
    if (::access(p.c_str(), R_OK) == 0) return p;
  }
  throw MissingProgram("liballoclab_whoami.so is not beside the alloclab binary (rebuild: scripts/build.sh)");
}

struct Spawned {
  pid_t pid = -1;  // also the process group
};

// Starts argv in a process group of its own, pinned to cpus, with stdout and
// stderr to files and `extra_env` over the environment (LD_PRELOAD and
// LD_LIBRARY_PATH replaced). Killed with the suite (PR_SET_PDEATHSIG).
Spawned spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
              const std::vector<int>& cpus, const std::string& out, const std::string& err, const std::string& cwd) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    bool replaced = key == "LD_PRELOAD" || key == "LD_LIBRARY_PATH" || key == "ALLOCLAB_WHOAMI_DIR";
    for (const auto& x : extra_env) replaced = replaced || x.substr(0, x.find('=')) == key;
    if (!replaced) env.push_back(kv);
  }
  for (const auto& x : extra_env) env.push_back(x);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::signal(s, SIG_DFL);
    if (!cpus.empty()) ::sched_setaffinity(0, sizeof(set), &set);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (o < 0 || e < 0 || in < 0 || ::dup2(in, 0) < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(126);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(cargv[0], cargv.data(), cenv.data());
    std::string msg = std::string("exec ") + cargv[0] + ": " + std::strerror(errno) + "\n";
    ssize_t w = ::write(2, msg.data(), msg.size());
    (void)w;
    ::_exit(127);
  }
  if (pid > 0) {
    ::setpgid(pid, pid);
    track(pid);
  }
  return {pid};
}

// The live (not zombie) members of a group.
std::vector<pid_t> live_members(pid_t pgid) {
  std::vector<pid_t> out;
  for (pid_t p : group_members(pgid)) {
    std::string stat = read_text("/proc/" + std::to_string(p) + "/stat", 4096);
    auto close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') continue;
    out.push_back(p);
  }
  return out;
}

void reap_group(pid_t pgid) {
  while (::waitpid(-pgid, nullptr, WNOHANG) > 0) {
  }
}

// SIGTERM to the group, SIGKILL after `grace` seconds; reaps what it can.
// Returns whether every process of the group is gone.
bool stop_group(pid_t pgid, double grace) {
  if (pgid <= 0) return true;
  ::kill(-pgid, SIGTERM);
  double until = now_s() + grace;
  while (now_s() < until) {
    reap_group(pgid);
    if (live_members(pgid).empty()) break;
    sleep_s(0.02);
  }
  if (!live_members(pgid).empty()) ::kill(-pgid, SIGKILL);
  until = now_s() + 5;
  while (now_s() < until) {
    reap_group(pgid);
    if (live_members(pgid).empty()) break;
    sleep_s(0.02);
  }
  reap_group(pgid);
  untrack(pgid);
  return live_members(pgid).empty();
}

// Whether the process `pid` has exited (reaping it); its status in `status`.
bool exited(pid_t pid, int& status) { return ::waitpid(pid, &status, WNOHANG) == pid; }

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "ended";
}

json percentiles_us(const OpenLoopResult& r) {
  return {{"p50", r.percentile_us(0.50)}, {"p90", r.percentile_us(0.90)}, {"p99", r.percentile_us(0.99)},
          {"p999", r.percentile_us(0.999)}, {"max", r.latency_us.empty() ? 0 : r.latency_us.back()}};
}

json cpu_delta(const GroupStats& a, const GroupStats& b, double requests) {
  double user = std::max(0.0, b.user_s - a.user_s), sys = std::max(0.0, b.sys_s - a.sys_s);
  json j = {{"user_s", user}, {"sys_s", sys},
            {"minor_faults", b.minor_faults >= a.minor_faults ? b.minor_faults - a.minor_faults : 0},
            {"major_faults", b.major_faults >= a.major_faults ? b.major_faults - a.major_faults : 0}};
  j["ns_per_request"] = requests > 0 ? (user + sys) * 1e9 / requests : 0.0;
  j["user_ns_per_request"] = requests > 0 ? user * 1e9 / requests : 0.0;
  j["sys_ns_per_request"] = requests > 0 ? sys * 1e9 / requests : 0.0;
  return j;
}

constexpr const char* kWrkScript = R"LUA(done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'ALLOCLAB {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.3f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
)LUA";

struct WrkRun {
  bool ok = false;
  std::string error;
  json figures;
};

WrkRun run_wrk(const std::string& wrk, const std::string& dir, int port, int seconds, int connections,
               const std::vector<int>& cpus) {
  WrkRun r;
  std::string dur = std::to_string(seconds) + "s";
  std::vector<std::string> argv = {wrk, "-t1", "-c" + std::to_string(connections), "-d", dur, "--timeout", "5s",
                                   "-s", dir + "/report.lua", "http://127.0.0.1:" + std::to_string(port) + "/index.html"};
  Spawned w = spawn(argv, {}, cpus, dir + "/wrk.out", dir + "/wrk.err", dir);
  if (w.pid < 0) {
    r.error = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  int status = 0;
  double deadline = now_s() + seconds + 15;
  while (!exited(w.pid, status)) {
    if (now_s() > deadline || stopping()) {
      stop_group(w.pid, 0);
      r.error = stopping() ? "interrupted" : "wrk did not finish";
      return r;
    }
    sleep_s(0.01);
  }
  stop_group(w.pid, 0);
  std::string out = read_text(dir + "/wrk.out");
  auto at = out.find("ALLOCLAB ");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || at == std::string::npos) {
    r.error = "wrk " + describe_exit(status) + ": " + tail_of(dir + "/wrk.err", 2) + " " + tail_of(dir + "/wrk.out", 2);
    return r;
  }
  try {
    r.figures = json::parse(out.substr(at + 9, out.find('\n', at) - at - 9));
  } catch (const std::exception& e) {
    r.error = std::string("unreadable wrk summary: ") + e.what();
    return r;
  }
  double secs = r.figures.value("duration_us", 0.0) / 1e6;
  r.figures["seconds"] = secs;
  r.figures["rps"] = secs > 0 ? r.figures.value("requests", 0.0) / secs : 0.0;
  r.ok = true;
  return r;
}

// V8's --trace-gc lines: "[pid:0x..]   1234 ms: Scavenge 4.1 (5.2) -> 3.5 (6.2) MB, 0.52 / 0.00 ms ...".
// Only collections after `after_ms` (V8's clock starts with the isolate,
// a little after the process: the cut errs towards leaving out) count: the
// ones under load, not those of building the retained heap at start.
json gc_figures(const std::string& log, double after_ms) {
  std::map<std::string, std::vector<double>> pauses;
  double heap_max = 0;
  int before = 0;
  json all = json::array();
  json forced = nullptr;
  std::istringstream in(read_text(log, 64 << 20));
  std::string line;
  while (std::getline(in, line)) {
    auto ms = line.find(" ms: ");
    auto mb = line.find(" MB, ");
    if (ms == std::string::npos || mb == std::string::npos) continue;
    auto open = line.find(']');
    double at = std::strtod(line.c_str() + (open == std::string::npos ? 0 : open + 1), nullptr);
    std::string rest = line.substr(ms + 5);
    std::string kind = rest.substr(0, rest.find(' '));
    if (kind == "Mark-Compact" || kind == "Mark-sweep" || kind == "Mark-Compact(reduce)") kind = "mark-compact";
    else if (kind == "Scavenge" || kind == "Minor") kind = "scavenge";
    else kind = "other";
    // The full collection the suite asks for after the load: V8 gives
    // global.gc() the reason "testing" (its own full collections say
    // "GC in old space requested" too).
    if (line.find("testing; GC in old space requested") != std::string::npos) kind = "forced";
    double pause = std::strtod(line.c_str() + mb + 5, nullptr);
    // "KIND 4.1 (5.2) -> 3.5 (6.2) MB": used before, used after.
    double used_before = std::strtod(line.c_str() + ms + 5 + rest.find(' '), nullptr);
    auto arrow = line.find("-> ");
    double used_after = arrow != std::string::npos ? std::strtod(line.c_str() + arrow + 3, nullptr) : 0;
    if (all.size() < 20000) all.push_back({at, kind, used_before, used_after, pause});
    if (kind == "forced") {
      forced = {{"pause_ms", pause}, {"heap_before_mb", used_before}, {"heap_after_mb", used_after}};
      continue;
    }
    if (at <= after_ms) {
      ++before;
      continue;
    }
    heap_max = std::max(heap_max, used_after);
    pauses[kind].push_back(pause);
  }
  json j = json::object();
  std::vector<double> under_load;
  for (auto& [kind, v] : pauses) {
    std::sort(v.begin(), v.end());
    double total = 0;
    for (double x : v) total += x;
    under_load.insert(under_load.end(), v.begin(), v.end());
    j[kind] = {{"count", v.size()}, {"total_ms", total}, {"max_ms", v.back()}, {"p50_ms", v[v.size() / 2]}};
  }
  std::sort(under_load.begin(), under_load.end());
  j["count"] = under_load.size();
  j["max_pause_ms"] = under_load.empty() ? 0.0 : under_load.back();
  j["heap_used_max_mb"] = heap_max;
  j["startup_collections"] = before;
  j["after_ms"] = after_ms;
  // {pause_ms, heap_before_mb, heap_after_mb} of the forced full collection.
  j["forced"] = forced;
  // Every collection, start-up included: [ms since V8 started, kind, MB
  // used before, MB used after, pause ms] (the first 20,000).
  j["collections"] = all;
  return j;
}

// The identities the whoami library wrote; a mismatch message or "".
std::string check_identity(const std::string& dir, Library expected, json& record) {
  std::vector<std::string> lines;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string t = read_text(e.path().string(), 8192);
    if (!t.empty() && t.back() == '\n') t.pop_back();
    lines.push_back(t);
  }
  if (lines.empty()) return "the server process never reported its allocator (liballoclab_whoami.so did not load)";
  std::set<std::string> seen;
  std::string mismatch;
  for (const auto& l : lines) {
    std::istringstream in(l);
    std::string family, version, object;
    std::getline(in, family, '\t');
    std::getline(in, version, '\t');
    std::getline(in, object);
    if (seen.insert(l).second) {
      record.push_back({{"family", family}, {"version", version}, {"malloc_object", object}});
    }
    if (family != library_name(expected) && mismatch.empty()) {
      mismatch = "the server's malloc is " + family + " (" + object + "), not " + std::string(library_name(expected));
    }
  }
  return mismatch;
}

// Whether every folder from / down to `dir` lets others through (o+x).
bool traversable_by_others(const std::string& dir) {
  fs::path p = fs::absolute(dir);
  for (fs::path at = p; ; at = at.parent_path()) {
    struct stat st{};
    if (::stat(at.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return false;
    if (at == at.parent_path()) return true;
  }
}

// The folders prefixes go in: $TMPDIR (or /tmp); as root, /tmp instead when
// the workers, which drop to nobody, could not reach files under $TMPDIR.
std::string prefix_base() {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (tmp != nullptr && tmp[0] != '\0') ? tmp : "/tmp";
  if (::geteuid() == 0 && !traversable_by_others(base)) return "/tmp";
  return base;
}

std::string make_prefix() {
  std::string base = prefix_base();
  std::string templ = base + "/alloclab-serve-" + std::to_string(::getpid()) + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("cannot create a folder under " + base + ": " + std::strerror(errno));
  // Workers that drop to nobody read the document root.
  ::chmod(buf.data(), 0755);
  return buf.data();
}

struct CellPlan {
  const ServerSpec* server;
  Library allocator;
  int rep;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

ServerSpec parse_server_spec(const std::string& text) {
  auto colon = text.find(':');
  std::string name = text.substr(0, colon);
  ServerSpec spec;
  spec.kind = find_server(name);
  spec.label = text;
  if (spec.kind == nullptr) throw std::invalid_argument("unknown server '" + name + "'; valid: " + server_names());
  if (colon == std::string::npos) return spec;
  std::string opt = text.substr(colon + 1);
  if (name != "node" || opt.rfind("retain=", 0) != 0)
    throw std::invalid_argument("'" + text + "': only node takes an option (node:retain=MIB)");
  std::string v = opt.substr(7);
  if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) < 1 ||
      std::stoi(v) > 65536)
    throw std::invalid_argument("'" + text + "': retain takes MiB from 1 to 65536");
  spec.retain_mib = std::stoi(v);
  spec.label = "node:retain=" + std::to_string(spec.retain_mib);
  return spec;
}

void install_stop_handlers() {
  struct sigaction sa{};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Workers of a killed master are re-parented to the suite and reaped.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void remove_stale_prefixes() {
  const char* tmp = std::getenv("TMPDIR");
  std::set<std::string> bases = {(tmp != nullptr && tmp[0] != '\0') ? tmp : "/tmp", prefix_base()};
  std::error_code ec;
  for (const auto& base : bases) {
    for (const auto& e : fs::directory_iterator(base, ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind("alloclab-serve-", 0) != 0) continue;
      pid_t owner = static_cast<pid_t>(std::atol(name.c_str() + 15));
      if (owner <= 0 || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
      std::string dir = e.path().string();
      // Servers left running there (their cwd is inside the folder).
      if (DIR* d = ::opendir("/proc")) {
        while (dirent* p = ::readdir(d)) {
          char* end = nullptr;
          long pid = std::strtol(p->d_name, &end, 10);
          if (end == p->d_name || *end != '\0') continue;
          std::error_code ec2;
          std::string cwd = fs::read_symlink("/proc/" + std::string(p->d_name) + "/cwd", ec2).string();
          if (!ec2 && cwd.rfind(dir, 0) == 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
        }
        ::closedir(d);
      }
      fs::remove_all(dir, ec);
    }
  }
}

std::string wrk_binary() {
  for (const char* p : {"/usr/bin/wrk", "/usr/local/bin/wrk"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  throw MissingProgram("wrk is not installed (Debian package wrk)");
}

namespace {

// One measured cell; with `capture` set, the server runs under
// `alloclab trace capture -o CAPTURE` instead (glibc, no identity check,
// warm-up and peak load only) and the cell records the requests served.
json run_cell(const SuiteOptions& o, const CellPlan& plan, const std::string& wrk, const std::string& whoami,
              const std::string& prefix, std::map<std::string, double>& rates, const std::string& page,
              const std::string& capture = {}) {
  const ServerKind& kind = *plan.server->kind;
  const std::string& label = plan.server->label;
  json cell = {{"id", label + "|" + std::string(library_name(plan.allocator)) + "|r" + std::to_string(plan.rep)},
               {"server", label}, {"kind", kind.name}, {"allocator", library_name(plan.allocator)}, {"rep", plan.rep}};
  std::error_code ec;
  fs::remove_all(prefix, ec);
  fs::create_directories(prefix + "/www", ec);
  fs::create_directories(prefix + "/whoami", ec);
  ::chmod(prefix.c_str(), 0755);
  ::chmod((prefix + "/www").c_str(), 0755);
  ::chmod((prefix + "/whoami").c_str(), 0777);
  {
    std::ofstream(prefix + "/www/index.html") << page;
    std::ofstream(prefix + "/report.lua") << kWrkScript;
  }
  auto failed = [&](const std::string& why) {
    cell["status"] = "failed";
    cell["failure"] = why;
    return cell;
  };
  std::string libpath = servers_library_path();
  std::vector<std::string> base_env;
  if (!libpath.empty()) base_env.push_back("LD_LIBRARY_PATH=" + libpath);

  // The upstream of a proxy: nginx with glibc, the same for every allocator.
  pid_t upstream = -1;
  Layout layout;
  layout.as_root = ::geteuid() == 0;
  layout.docroot = prefix + "/www";
  layout.node_retain_mib = plan.server->retain_mib;
  if (kind.needs_upstream) {
    Layout up = layout;
    up.prefix = prefix + "/upstream";
    fs::create_directories(up.prefix, ec);
    ::chmod(up.prefix.c_str(), 0755);
    up.port = free_port();
    Launch ul = prepare_server(*find_server("nginx"), up);
    upstream = spawn(ul.argv, base_env, o.server_cpus, ul.stdout_path, ul.stderr_path, up.prefix).pid;
    double until = now_s() + o.start_timeout_s;
    int st = 0;
    while (!answers(up.port, "/index.html")) {
      if (exited(upstream, st) || now_s() > until || stopping()) {
        stop_group(upstream, 1);
        return failed("the nginx upstream did not start: " + tail_of(ul.error_log));
      }
      sleep_s(0.02);
    }
    layout.upstream_port = up.port;
  }

  std::vector<std::string> env = base_env;
  std::string preload(library_preload_path(plan.allocator));
  if (capture.empty()) {
    env.push_back("LD_PRELOAD=" + (preload.empty() ? whoami : preload + " " + whoami));
    env.push_back("ALLOCLAB_WHOAMI_DIR=" + prefix + "/whoami");
  }

  // Start; a port taken in the meantime is tried again with another.
  pid_t server = -1;
  Launch launch;
  std::string start_error;
  double spawned_at = now_s();
  for (int attempt = 0; attempt < 3 && server < 0 && !stopping(); ++attempt) {
    layout.prefix = prefix + "/server";
    fs::remove_all(layout.prefix, ec);
    fs::create_directories(layout.prefix, ec);
    ::chmod(layout.prefix.c_str(), 0755);
    layout.port = free_port();
    launch = prepare_server(kind, layout);
    if (!capture.empty()) {
      std::vector<std::string> wrapped = {self_exe(), "trace", "capture", "-o", capture, "--"};
      wrapped.insert(wrapped.end(), launch.argv.begin(), launch.argv.end());
      launch.argv = wrapped;
    }
    std::vector<std::string> launch_env = env;
    // The capture's folder goes in the prefix, which the workers can reach.
    if (!capture.empty()) launch_env.push_back("TMPDIR=" + prefix);
    spawned_at = now_s();
    pid_t pid = spawn(launch.argv, launch_env, o.server_cpus, launch.stdout_path, launch.stderr_path, layout.prefix).pid;
    double until = now_s() + o.start_timeout_s;
    int st = 0;
    bool up = false;
    while (!stopping()) {
      if (answers(layout.port, "/index.html")) { up = true; break; }
      if (exited(pid, st)) {
        start_error = std::string(kind.name) + " " + describe_exit(st) + ": " + logs_tail(launch);
        break;
      }
      if (now_s() > until) { start_error = std::string(kind.name) + " did not answer within " + std::to_string(static_cast<int>(o.start_timeout_s)) + " s: " + logs_tail(launch); break; }
      sleep_s(0.02);
    }
    if (up) { server = pid; break; }
    stop_group(pid, 1);
    if (start_error.find("in use") == std::string::npos) break;
  }
  auto finish = [&]() {
    bool gone = stop_group(server, 5);
    if (upstream > 0) gone = stop_group(upstream, 5) && gone;
    if (!gone) cell["leftover_processes"] = true;
  };
  if (server < 0) {
    if (upstream > 0) stop_group(upstream, 1);
    return failed(stopping() ? "interrupted" : start_error);
  }
  cell["port"] = layout.port;
  cell["start_ms"] = std::lround((now_s() - spawned_at) * 1000);

  if (!capture.empty()) {
    // Load as in a measured cell, then a graceful stop, so that every
    // process flushes its events and the capture writes the trace.
    WrkRun warm;
    warm.ok = true;
    if (o.warmup_s > 0) warm = run_wrk(wrk, prefix, layout.port, o.warmup_s, o.connections, o.load_cpus);
    WrkRun load = warm.ok ? run_wrk(wrk, prefix, layout.port, o.peak_s, o.connections, o.load_cpus) : warm;
    bool gone = stop_group(server, 120);
    if (upstream > 0) gone = stop_group(upstream, 5) && gone;
    if (!gone) cell["leftover_processes"] = true;
    if (!load.ok) return failed(load.error);
    std::error_code ec2;
    if (!fs::exists(capture, ec2)) return failed("the capture wrote no trace: " + logs_tail(launch));
    // Every request the server answered while traced: wrk's, and the
    // readiness probes' (a handful).
    cell["requests"] = (o.warmup_s > 0 ? warm.figures.value("requests", 0.0) : 0.0) + load.figures.value("requests", 0.0);
    cell["capture_log"] = tail_of(launch.stderr_path, 12);
    cell["status"] = "ok";
    return cell;
  }

  json identity = json::array();
  std::string mismatch = check_identity(prefix + "/whoami", plan.allocator, identity);
  cell["identity"] = identity;
  if (!mismatch.empty()) {
    finish();
    return failed(mismatch);
  }

  // RSS over time, from the moment the server answers until it is stopped.
  std::atomic<bool> sampling{true};
  json series = json::array();
  const double t0 = now_s();
  std::thread sampler([&] {
    while (sampling.load()) {
      series.push_back({std::lround((now_s() - t0) * 1000), group_rss_kib(server)});
      for (double slept = 0; slept < o.sample_interval_s && sampling.load(); slept += 0.01) sleep_s(0.01);
    }
  });
  auto stop_sampler = [&] {
    sampling = false;
    sampler.join();
  };
  cell["phases_ms"] = json::object();
  // Warm-up (not measured), then peak throughput.
  WrkRun warm;
  warm.ok = true;
  if (o.warmup_s > 0) warm = run_wrk(wrk, prefix, layout.port, o.warmup_s, o.connections, o.load_cpus);
  int st = 0;
  if (!warm.ok || exited(server, st)) {
    stop_sampler();
    finish();
    return failed(warm.ok ? std::string(kind.name) + " " + describe_exit(st) + " during warm-up: " + logs_tail(launch)
                          : warm.error);
  }
  cell["phases_ms"]["peak_start"] = std::lround((now_s() - t0) * 1000);
  GroupStats a = group_stats(server);
  WrkRun peak = run_wrk(wrk, prefix, layout.port, o.peak_s, o.connections, o.load_cpus);
  GroupStats b = group_stats(server);
  GroupMemory mem = group_memory(server);
  if (!peak.ok || exited(server, st)) {
    stop_sampler();
    finish();
    return failed(peak.ok ? std::string(kind.name) + " " + describe_exit(st) + " under load: " + logs_tail(launch) : peak.error);
  }
  json p = peak.figures;
  p["server"] = cpu_delta(a, b, p.value("requests", 0.0));
  p["connections"] = o.connections;
  cell["peak"] = p;

  // Fixed offered rate, below saturation.
  double rate = o.rate;
  if (rate <= 0) {
    auto it = rates.find(label);
    if (it == rates.end()) it = rates.emplace(label, std::max(100.0, std::round(p.value("rps", 0.0) * o.rate_fraction / 100) * 100)).first;
    rate = it->second;
  }
  cell["phases_ms"]["fixed_start"] = std::lround((now_s() - t0) * 1000);
  GroupStats c = group_stats(server);
  OpenLoopOptions ol;
  ol.port = layout.port;
  ol.path = "/index.html";
  ol.rate = rate;
  ol.seconds = o.fixed_s;
  ol.connections = o.connections;
  // The generator runs in this process, which is pinned to the load CPUs.
  OpenLoopResult fixed = run_open_loop(ol, &g_stop_signal);
  GroupStats d = group_stats(server);
  cell["phases_ms"]["fixed_end"] = std::lround((now_s() - t0) * 1000);
  json f = {{"offered_rps", rate}, {"due", fixed.due}, {"requests", fixed.completed}, {"errors", fixed.errors},
            {"seconds", fixed.seconds}, {"latency_us", percentiles_us(fixed)}, {"connections", o.connections}};
  f["achieved_rps"] = fixed.seconds > 0 ? static_cast<double>(fixed.completed) / fixed.seconds : 0.0;
  // Below 95% of the offered rate the server (or the generator) could not keep up.
  f["kept_up"] = fixed.due > 0 && static_cast<double>(fixed.completed) >= 0.95 * static_cast<double>(fixed.due);
  if (!fixed.first_error.empty()) f["first_error"] = fixed.first_error;
  f["server"] = cpu_delta(c, d, static_cast<double>(fixed.completed));
  cell["fixed"] = f;
  stop_sampler();
  if (stopping()) {
    finish();
    return failed("interrupted");
  }
  if (launch.traces_gc) {
    // One forced full collection of the heap as the load left it, then a
    // wait for its trace line (a 1 GB heap takes a second or more).
    ::kill(server, SIGUSR2);
    double until = now_s() + 30;
    while (now_s() < until && !stopping() &&
           read_text(launch.stdout_path, 64 << 20).find("testing; GC in old space requested") == std::string::npos) {
      sleep_s(0.05);
    }
  }
  cell["memory"] = {{"vm_hwm_kib", d.vm_hwm_kib}, {"rss_end_kib", d.rss_kib}, {"pss_kib", mem.pss_kib},
                    {"anon_huge_kib", mem.anon_huge_kib}, {"processes", d.processes}, {"rss_series", series}};
  finish();
  if (launch.traces_gc) cell["gc"] = gc_figures(launch.stdout_path, cell["start_ms"].get<double>());
  if (kind.name == std::string_view("node")) cell["node_retain_mib"] = plan.server->retain_mib;
  cell["status"] = "ok";
  return cell;
}

// Spearman's rank correlation (ties get their mean rank); NaN below 2 points
// or when a side has no spread.
double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  auto ranks = [](const std::vector<double>& v) {
    std::vector<std::size_t> idx(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < idx.size();) {
      std::size_t j = i;
      while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
      for (std::size_t k = i; k <= j; ++k) r[idx[k]] = (static_cast<double>(i + j) / 2) + 1;
      i = j + 1;
    }
    return r;
  };
  if (x.size() < 2 || x.size() != y.size()) return std::nan("");
  auto rx = ranks(x), ry = ranks(y);
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < rx.size(); ++i) mx += rx[i], my += ry[i];
  mx /= static_cast<double>(rx.size());
  my /= static_cast<double>(ry.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx == 0 || syy == 0) return std::nan("");
  return sxy / std::sqrt(sxx * syy);
}

// The server's own allocations, captured under the same load, replayed
// under each allocator (`alloclab run --trace`), beside what the server
// measured: does the replay order the allocators as the server's CPU time
// per request does?
json predict_server(const SuiteOptions& o, const ServerSpec& spec, const std::string& wrk, const std::string& whoami,
                    const std::string& prefix, const std::string& page, const json& cells) {
  std::map<std::string, double> rates;
  const std::string trace = prefix + "/" + spec.label + ".trace";
  json p = {{"server", spec.label}};
  json cap = run_cell(o, {&spec, Library::glibc, 0}, wrk, whoami, prefix + "/cell", rates, page, trace);
  if (cap.value("status", "") != "ok") {
    p["status"] = "failed";
    p["failure"] = "capture: " + cap.value("failure", std::string("failed"));
    return p;
  }
  const double requests = cap.value("requests", 0.0);
  p["capture"] = {{"requests", requests}, {"log", cap.value("capture_log", "")}};
  WorkerRequest req;
  req.argv = {self_exe(), "run", "--trace", trace, "--reps", std::to_string(o.predict_reps), "-q", "--force",
              "-o", prefix + "/replay.json", "--backends"};
  std::string backends;
  for (auto l : o.allocators) backends += (backends.empty() ? "" : ",") + std::string(library_name(l));
  req.argv.push_back(backends);
  req.timeout = std::chrono::minutes(30);
  req.cancel = &g_stop_flag;
  WorkerOutcome out = run_worker(req);
  if (!out.ok() && !(out.status == WorkerOutcome::Status::exited && out.exit_code == 3)) {
    p["status"] = "failed";
    p["failure"] = "replay of the captured trace: " + out.describe();
    return p;
  }
  json replay = json::parse(read_text(prefix + "/replay.json", 1u << 30), nullptr, false);
  if (replay.is_discarded() || !replay.contains("cells")) {
    p["status"] = "failed";
    p["failure"] = "replay of the captured trace wrote no readable results";
    return p;
  }
  json rows = json::array();
  std::vector<double> predicted, measured;
  for (auto lib : o.allocators) {
    std::string name(library_name(lib));
    std::vector<double> alloc_s, ops;
    for (const auto& c : replay["cells"]) {
      if (c.value("backend", "") != name || c.value("status", "") != "ok") continue;
      alloc_s.push_back(c["replay"].value("allocator_seconds", 0.0));
      ops.push_back(c["replay"].value("ops", 0.0));
    }
    std::vector<double> cpu;
    for (const auto& c : cells) {
      if (c.value("server", "") == spec.label && c.value("allocator", "") == name && c.value("status", "") == "ok")
        cpu.push_back(c["peak"]["server"].value("ns_per_request", 0.0));
    }
    json row = {{"allocator", name}, {"replay_reps", alloc_s.size()}, {"server_reps", cpu.size()}};
    if (!alloc_s.empty() && requests > 0) {
      double ns = median(alloc_s) * 1e9 / requests;
      row["replay_ns_per_request"] = ns;
      row["ops_per_request"] = median(ops) / requests;
      if (!cpu.empty()) {
        double m = median(cpu);
        row["server_cpu_ns_per_request"] = m;
        row["replay_share_of_server_cpu"] = m > 0 ? ns / m : 0.0;
        predicted.push_back(ns);
        measured.push_back(m);
      }
    }
    rows.push_back(row);
  }
  p["allocators"] = rows;
  double rho = spearman(predicted, measured);
  p["spearman"] = std::isnan(rho) ? json(nullptr) : json(rho);
  p["spearman_n"] = predicted.size();
  p["status"] = "ok";
  return p;
}

}  // namespace

json run_suite(const SuiteOptions& o, int& failed, const std::function<void(const json&)>& checkpoint,
               const json* previous) {
  failed = 0;
  const std::string wrk = wrk_binary();
  const std::string whoami = whoami_library();
  for (const auto& k : o.servers) server_binary(*k.kind);
  std::string page;
  page.reserve(o.body_bytes);
  page = "<!doctype html><title>alloclab</title>\n";
  while (page.size() < o.body_bytes) page += "<p>alloclab serves this page to measure real servers under each allocator.</p>\n";
  page.resize(o.body_bytes);

  std::vector<CellPlan> plan;
  const int n = static_cast<int>(o.allocators.size());
  for (int rep = 0; rep < o.reps; ++rep) {
    for (const auto& k : o.servers) {
      if (k.retain_mib > 0) {
        plan.push_back({&k, o.allocators.front(), rep});
        continue;
      }
      // Allocators in a rotated order each repetition, so drift over the
      // run does not favour one of them.
      for (int i = 0; i < n; ++i) plan.push_back({&k, o.allocators[static_cast<std::size_t>((i + rep) % n)], rep});
    }
  }

  json doc;
  doc["format"] = "alloclab-serve";
  doc["version"] = 1;
  json ctx = run::machine_context();
  ctx["server_cpus"] = o.server_cpus;
  ctx["load_cpus"] = o.load_cpus;
  ctx["thp"] = thp_mode();
  ctx["servers_root"] = servers_root();
  std::string stamp = read_text(fs::path(servers_root()).parent_path().string() + "/stamp", 4096);
  ctx["server_packages"] = stamp;
  doc["context"] = ctx;
  json servers = json::array(), allocs = json::array();
  for (const auto& k : o.servers) servers.push_back(k.label);
  for (auto l : o.allocators) allocs.push_back(library_name(l));
  doc["config"] = {{"servers", servers}, {"allocators", allocs}, {"reps", o.reps}, {"warmup_s", o.warmup_s},
                   {"peak_s", o.peak_s}, {"fixed_s", o.fixed_s}, {"rate", o.rate}, {"rate_fraction", o.rate_fraction},
                   {"connections", o.connections}, {"body_bytes", o.body_bytes},
                   {"sample_interval_s", o.sample_interval_s}, {"load_generator", "wrk (peak), alloclab open loop (fixed rate)"}};
  doc["complete"] = false;
  doc["cells"] = json::array();
  std::map<std::string, double> rates;
  std::set<std::string> done;
  json predictions = json::array();
  if (previous != nullptr) {
    // --resume: the same suite on the same machine; its cells are kept and
    // its fixed rates reused, so the cells still to run offer the same load.
    if ((*previous)["config"] != doc["config"])
      throw run::ResultsError("another configuration than this suite's (--resume needs the same servers, backends, "
                              "reps, durations, rate, connections and page size)");
    for (const char* k : {"cpu_model", "cores", "memory_bytes", "kernel", "machine"}) {
      if ((*previous)["context"].value(k, json()) != doc["context"].value(k, json()))
        throw run::ResultsError(std::string("measured on another machine (context.") + k + " differs)");
    }
    doc["context"] = (*previous)["context"];
    doc["cells"] = (*previous)["cells"];
    for (const auto& c : doc["cells"]) {
      done.insert(c["id"].get<std::string>());
      if (c["status"] == "ok" && o.rate <= 0) rates[c["server"].get<std::string>()] = c["fixed"]["offered_rps"].get<double>();
    }
    predictions = previous->value("predictions", json::array());
  }
  const std::size_t planned = plan.size();
  plan.erase(std::remove_if(plan.begin(), plan.end(),
                            [&](const CellPlan& c) {
                              return done.count(c.server->label + "|" + std::string(library_name(c.allocator)) + "|r" +
                                                std::to_string(c.rep)) > 0;
                            }),
             plan.end());
  const std::string prefix = make_prefix();
  run::Progress progress(planned, planned - plan.size(), o.quiet);
  for (const auto& c : plan) {
    if (stopping()) break;
    std::string label = c.server->label + " " + std::string(library_name(c.allocator)) + " r" + std::to_string(c.rep);
    progress.starting(label);
    double t = now_s();
    json cell = run_cell(o, c, wrk, whoami, prefix + "/cell", rates, page);
    if (stopping()) break;  // a cell cut short is not a measurement
    if (cell.value("status", "") != "ok") ++failed;
    progress.finished(label, cell.value("status", "failed"), now_s() - t);
    doc["cells"].push_back(std::move(cell));
    if (!predictions.empty()) doc["predictions"] = predictions;
    if (doc["cells"].size() < planned || o.predict) checkpoint(doc);
  }
  progress.close();
  if (!predictions.empty()) doc["predictions"] = predictions;
  if (o.predict && !stopping()) {
    std::set<std::string> predicted;
    for (const auto& p : predictions) predicted.insert(p["server"].get<std::string>());
    for (const auto& k : o.servers) {
      if (stopping()) break;
      if (k.retain_mib > 0 || predicted.count(k.label) > 0) continue;
      if (!o.quiet) std::fprintf(stderr, "capture and replay: %s\n", k.label.c_str());
      predictions.push_back(predict_server(o, k, wrk, whoami, prefix, page, doc["cells"]));
      doc["predictions"] = predictions;
      checkpoint(doc);
    }
  }
  std::error_code ec;
  fs::remove_all(prefix, ec);
  doc["complete"] = !stopping() && doc["cells"].size() == planned &&
                    (!o.predict || doc["predictions"].size() == static_cast<std::size_t>(std::count_if(
                                       o.servers.begin(), o.servers.end(), [](const ServerSpec& k) { return k.retain_mib == 0; })));
  doc["comparisons"] = compare_cells(doc["cells"], [&] {
    std::vector<std::string> v;
    for (auto l : o.allocators) v.emplace_back(library_name(l));
    return v;
  }());
  return doc;
}

json compare_cells(const json& cells, const std::vector<std::string>& allocators) {
  json out = json::array();
  if (allocators.empty()) return out;
  const std::string& base = allocators.front();
  struct M {
    const char* name;
    const char* path;
  };
  const M metrics[] = {{"peak_rps", "/peak/rps"},
                       {"cpu_ns_per_request", "/peak/server/ns_per_request"},
                       {"fixed_p99_us", "/fixed/latency_us/p99"},
                       {"vm_hwm_kib", "/memory/vm_hwm_kib"}};
  std::vector<std::string> servers;
  for (const auto& c : cells) {
    std::string s = c.value("server", "");
    if (std::find(servers.begin(), servers.end(), s) == servers.end()) servers.push_back(s);
  }
  for (const auto& s : servers) {
    for (const auto& a : allocators) {
      if (a == base) continue;
      for (const auto& m : metrics) {
        std::vector<double> x, y;
        for (const auto& c : cells) {
          if (c.value("server", "") != s || c.value("status", "") != "ok") continue;
          json::json_pointer ptr(m.path);
          if (!c.contains(ptr)) continue;
          if (c.value("allocator", "") == a) x.push_back(c.at(ptr).get<double>());
          if (c.value("allocator", "") == base) y.push_back(c.at(ptr).get<double>());
        }
        if (x.empty() || y.empty()) continue;
        auto u = run::mann_whitney(x, y);
        double mx = median(x), my = median(y);
        out.push_back({{"server", s}, {"allocator", a}, {"baseline", base}, {"metric", m.name},
                       {"median", mx}, {"baseline_median", my}, {"ratio", my != 0 ? mx / my : 0.0},
                       {"p", u.p}, {"n", x.size()}, {"baseline_n", y.size()},
                       {"smallest_possible_p", run::smallest_p(x.size(), y.size())}});
      }
    }
  }
  return out;
}

std::string summary_table(const json& doc) {
  std::ostringstream s;
  char line[256];
  std::snprintf(line, sizeof(line), "%-8s %-9s %4s %10s %9s %9s %9s %10s %9s\n", "server", "allocator", "ok",
                "peak req/s", "cpu us/rq", "fixed p50", "fixed p99", "p99.9 (us)", "VmHWM MiB");
  s << line;
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& c : doc.at("cells")) {
    std::pair<std::string, std::string> k{c.value("server", ""), c.value("allocator", "")};
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  for (const auto& [srv, alloc] : keys) {
    std::vector<double> rps, cpu, p50, p99, p999, hwm;
    int ok = 0, all = 0;
    for (const auto& c : doc.at("cells")) {
      if (c.value("server", "") != srv || c.value("allocator", "") != alloc) continue;
      ++all;
      if (c.value("status", "") != "ok") continue;
      ++ok;
      rps.push_back(c["peak"]["rps"].get<double>());
      cpu.push_back(c["peak"]["server"]["ns_per_request"].get<double>() / 1000);
      p50.push_back(c["fixed"]["latency_us"]["p50"].get<double>());
      p99.push_back(c["fixed"]["latency_us"]["p99"].get<double>());
      p999.push_back(c["fixed"]["latency_us"]["p999"].get<double>());
      hwm.push_back(c["memory"]["vm_hwm_kib"].get<double>() / 1024);
    }
    std::snprintf(line, sizeof(line), "%-8s %-9s %2d/%-1d %10.0f %9.1f %9.0f %9.0f %10.0f %9.1f\n", srv.c_str(), alloc.c_str(),
                  ok, all, median(rps), median(cpu), median(p50), median(p99), median(p999), median(hwm));
    s << line;
  }
  s << "(medians over repetitions; peak: wrk, closed loop; fixed: open loop at a fixed offered rate, latency from each request's due time)\n";
  return s.str();
}

}  // namespace alloclab::serve
