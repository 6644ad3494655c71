// Running a program under capture: its stdin, stdout and stderr are ours,
// the environment gains the preload and the event directory, and a signal
// sent to us by another process (kill, timeout(1)) is passed on to it, so
// that stopping the capture stops the program the way it would stop alone.
// It never outlives us: a kill -9 of the capture kills it (PR_SET_PDEATHSIG,
// so call these from the main thread; its own children are not covered).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace alloclab::capture {

// The program could not be started (not found, not executable).
struct StartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ProgramRun {
  int pid = 0;
  int wait_status = 0;  // as waitpid() gives it
  double wall_s = 0;
};

// Runs argv (argv[0] searched in PATH) with `env` set on top of ours and
// waits for it. The program gets SIGKILL if the calling thread dies first.
// Throws StartError.
ProgramRun run_program(const std::vector<std::string>& argv,
                       const std::vector<std::pair<std::string, std::string>>& env = {});

// Runs argv with `library` preloaded ahead of whatever LD_PRELOAD already
// names, writing its events into `dir`.
ProgramRun run_captured(const std::vector<std::string>& argv, const std::string& library, const std::string& dir);

// A fresh private directory under $TMPDIR (or /tmp), named
// PREFIX-PID-XXXXXX by our pid, removed with all it holds when this goes
// away. Throws std::runtime_error.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Removes what a TempDir(prefix) of a process killed with SIGKILL left: the
// PREFIX-PID-* directories under $TMPDIR (or /tmp) whose PID no longer
// exists (a live process of another user, EPERM, counts as existing).
// Returns how many it removed; errors are ignored.
int remove_stale_dirs(const std::string& prefix);

}  // namespace alloclab::capture
