#include "harness/worker_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

extern char** environ;

namespace alloclab {

namespace {

constexpr std::size_t kStderrTail = 64 * 1024;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Reads what is available from fd into out; false at end of file.
bool drain(int fd, std::string& out, std::size_t cap, bool keep_tail, bool* overflow) {
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  out.append(buf, static_cast<std::size_t>(n));
  if (out.size() > cap) {
    if (keep_tail) {
      out.erase(0, out.size() - cap);
    } else {
      out.resize(cap);
      *overflow = true;
    }
  }
  return true;
}

}  // namespace

std::string WorkerOutcome::last_error_line() const {
  std::size_t end = err.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) return "";
  std::size_t start = err.rfind('\n', end);
  return err.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

std::string WorkerOutcome::describe() const {
  switch (status) {
    case Status::exited: {
      std::string s = "exit " + std::to_string(exit_code);
      auto line = last_error_line();
      return line.empty() ? s : s + ": " + line;
    }
    case Status::signaled: {
      const char* name = ::sigabbrev_np(signal);
      std::string s = "killed by " + (name ? "SIG" + std::string(name) : "signal " + std::to_string(signal));
      if (signal == SIGKILL) s += " (out of memory?)";
      return s;
    }
    case Status::timed_out:
      return "timed out after " + std::to_string(static_cast<long>(wall_seconds)) + " s";
    case Status::output_overflow:
      return "wrote more output than allowed; killed";
    case Status::spawn_failed:
      return "could not start worker: " + err;
    case Status::cancelled:
      return "cancelled";
  }
  return "unknown";
}

WorkerOutcome run_worker(const WorkerRequest& request) {
  WorkerOutcome outcome;
  if (request.argv.empty()) {
    outcome.err = "empty command";
    return outcome;
  }
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    outcome.err = std::strerror(errno);
    return outcome;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    outcome.err = std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return outcome;
  }

  // Build argv and envp before fork: the child only calls async-signal-safe
  // functions.
  std::vector<char*> argv;
  for (const auto& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  auto named_in_request = [&](std::string_view entry) {
    std::string_view name = entry.substr(0, entry.find('=') + 1);
    for (const auto& e : request.env)
      if (std::string_view(e).substr(0, e.find('=') + 1) == name) return true;
    return false;
  };
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LD_PRELOAD=", 11) == 0) continue;
    if (request.drop_inherited && request.drop_inherited(*e)) continue;
    if (named_in_request(*e)) continue;
    env_store.emplace_back(*e);
  }
  if (request.preload && !request.preload->empty()) env_store.push_back("LD_PRELOAD=" + *request.preload);
  for (const auto& e : request.env) env_store.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  auto start = std::chrono::steady_clock::now();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    outcome.err = std::string("fork: ") + std::strerror(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    return outcome;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // A worker never outlives the thread that started it (a kill -9 of the
    // orchestrator included): it measures nothing for anyone after that.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (request.memory_limit_bytes != 0) {
      rlimit lim{request.memory_limit_bytes, request.memory_limit_bytes};
      ::setrlimit(RLIMIT_AS, &lim);
    }
    ::execve(argv[0], argv.data(), envp.data());
    const char msg[] = "alloclab: cannot execute worker\n";
    [[maybe_unused]] auto w = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before any kill
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  int out_fd = out_pipe[0], err_fd = err_pipe[0];

  bool timed_out = false, overflow = false, cancelled = false;
  auto deadline = start + request.timeout;
  auto cancel_requested = [&] { return request.cancel && request.cancel->load(std::memory_order_relaxed); };
  while (out_fd >= 0 || err_fd >= 0) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (cancel_requested()) {
      cancelled = true;
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    if (request.cancel) left = std::min<long long>(left, 200);
    pollfd fds[2];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    int r = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < n && r > 0; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      if (fds[i].fd == out_fd) {
        if (!drain(out_fd, outcome.out, request.max_stdout_bytes, false, &overflow)) close_fd(out_fd);
      } else {
        if (!drain(err_fd, outcome.err, kStderrTail, true, &overflow)) close_fd(err_fd);
      }
    }
    if (overflow) break;
  }
  close_fd(out_fd);
  close_fd(err_fd);

  // The child may have closed its output and still be running: keep the
  // deadline while waiting for it.
  int status = 0;
  while (!timed_out && !overflow && !cancelled) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    if (cancel_requested()) {
      cancelled = true;
      break;
    }
    ::usleep(1000);
  }
  if (timed_out || overflow || cancelled) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // Anything the worker left running in its group goes with it.
  ::kill(-pid, SIGKILL);
  outcome.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (cancelled) {
    outcome.status = WorkerOutcome::Status::cancelled;
  } else if (timed_out) {
    outcome.status = WorkerOutcome::Status::timed_out;
  } else if (overflow) {
    outcome.status = WorkerOutcome::Status::output_overflow;
  } else if (WIFSIGNALED(status)) {
    outcome.status = WorkerOutcome::Status::signaled;
    outcome.signal = WTERMSIG(status);
  } else {
    outcome.status = WorkerOutcome::Status::exited;
    outcome.exit_code = WEXITSTATUS(status);
  }
  return outcome;
}

std::string worker_executable() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "alloclab-worker";
  std::string self(buf, static_cast<std::size_t>(n));
  auto slash = self.rfind('/');
  return self.substr(0, slash + 1) + "alloclab-worker";
}

}  // namespace alloclab
