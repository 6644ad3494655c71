#include "workloads/capture/capture_run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "workloads/capture/capture_event.hpp"

extern char** environ;

namespace alloclab::capture {

namespace {

std::string temp_base() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

volatile sig_atomic_t g_child = 0;

// Only signals a process sent on purpose: one from the terminal (SI_KERNEL)
// reached the program already, as it shares our process group.
void forward(int sig, siginfo_t* info, void*) {
  bool sent = info->si_code == SI_USER || info->si_code == SI_QUEUE || info->si_code == SI_TKILL;
  if (sent && g_child > 0 && info->si_pid != g_child) ::kill(g_child, sig);
}

constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

class Forwarding {
 public:
  Forwarding() {
    struct sigaction sa {};
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    ::sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < std::size(kForwarded); ++i) ::sigaction(kForwarded[i], &sa, &old_[i]);
  }
  ~Forwarding() {
    for (std::size_t i = 0; i < std::size(kForwarded); ++i) ::sigaction(kForwarded[i], &old_[i], nullptr);
    g_child = 0;
  }

 private:
  struct sigaction old_[std::size(kForwarded)]{};
};

std::vector<std::string> environment_with(const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string_view kv = *e;
    bool replaced = false;
    for (const auto& [k, v] : env)
      replaced = replaced || (kv.size() > k.size() && kv.starts_with(k) && kv[k.size()] == '=');
    if (!replaced) out.emplace_back(kv);
  }
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

ProgramRun run_program(const std::vector<std::string>& argv,
                       const std::vector<std::pair<std::string, std::string>>& env) {
  if (argv.empty()) throw StartError("no command to run");
  std::vector<std::string> args = argv;
  std::vector<std::string> vars = environment_with(env);
  std::vector<char*> arg_ptrs = pointers(args);
  std::vector<char*> env_ptrs = pointers(vars);

  // The child reports a failed exec through this pipe; it closes on success.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  Forwarding forwarding;
  auto start = std::chrono::steady_clock::now();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::close(report[0]);
    // Dies with the thread that forked it (a kill -9 of the capture
    // included), unless that has already happened. Kept across exec, except
    // of a setuid program (which the preload cannot record anyway).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::execvpe(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    int err = errno;
    (void)!::write(report[1], &err, sizeof err);
    ::_exit(127);
  }
  g_child = pid;
  ::close(report[1]);
  int err = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);

  ProgramRun run;
  run.pid = pid;
  while (::waitpid(pid, &run.wait_status, 0) < 0 && errno == EINTR) {
  }
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (n == static_cast<ssize_t>(sizeof err)) throw StartError("cannot run " + argv[0] + ": " + std::strerror(err));
  return run;
}

ProgramRun run_captured(const std::vector<std::string>& argv, const std::string& library, const std::string& dir) {
  std::string preload = library;
  if (const char* existing = std::getenv("LD_PRELOAD"); existing && *existing) preload += std::string(":") + existing;
  return run_program(argv, {{"LD_PRELOAD", preload}, {kDirEnv, dir}});
}

TempDir::TempDir(const std::string& prefix) {
  std::string base = temp_base();
  std::string pattern = base + "/" + prefix + "-" + std::to_string(::getpid()) + "-XXXXXX";
  if (!::mkdtemp(pattern.data()))
    throw std::runtime_error("cannot create a directory in " + base + ": " + std::strerror(errno));
  path_ = pattern;
  // Under root, a traced server's workers may drop to another user (nginx,
  // httpd and h2o run theirs as nobody) and still write their events here:
  // others may create files but not list or remove the folder's (sticky).
  if (::geteuid() == 0) ::chmod(path_.c_str(), 01733);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int remove_stale_dirs(const std::string& prefix) {
  namespace fs = std::filesystem;
  std::string lead = prefix + "-";
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(temp_base(), ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(lead, 0) != 0 || !e.is_directory(ec) || e.is_symlink(ec)) continue;
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + lead.size(), &end, 10);
    if (pid <= 0 || *end != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    if (fs::remove_all(e.path(), rm) > 0 && !rm) ++removed;
  }
  return removed;
}

}  // namespace alloclab::capture
