// Running one worker process and classifying how it ended.
//
// Every cell runs in a fresh process with its allocator preloaded, so a
// crash, a hang or an out-of-memory kill is an outcome to record, never the
// orchestrator's death. run_worker() never throws for a misbehaving child.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alloclab {

struct WorkerRequest {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  // LD_PRELOAD for the child; nullopt or empty removes any inherited one.
  std::optional<std::string> preload;
  // Extra environment variables (NAME=value), added to the inherited ones;
  // an inherited variable of the same name is dropped.
  std::vector<std::string> env;
  // Inherited variables (NAME=value) for which this returns true are
  // dropped too; nullptr keeps them all.
  bool (*drop_inherited)(std::string_view entry) = nullptr;
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};
  // RLIMIT_AS for the child, 0 for none: a runaway allocator then fails its
  // own mallocs instead of taking the machine down.
  std::uint64_t memory_limit_bytes = 0;
  // Output beyond this is dropped and the child is killed.
  std::size_t max_stdout_bytes = 256u << 20;
  // When set and it becomes true (a signal handler's flag), the child is
  // killed within 200 ms and the outcome is `cancelled`.
  const std::atomic<bool>* cancel = nullptr;
};

struct WorkerOutcome {
  enum class Status { exited, signaled, timed_out, output_overflow, spawn_failed, cancelled };
  Status status = Status::spawn_failed;
  int exit_code = -1;  // valid when status == exited
  int signal = 0;      // valid when status == signaled
  double wall_seconds = 0;
  std::string out;
  std::string err;  // the last 64 KiB of stderr

  bool ok() const noexcept { return status == Status::exited && exit_code == 0; }
  // One line: "exit 4: <last stderr line>", "killed by SIGSEGV",
  // "timed out after 30 s".
  std::string describe() const;
  // The last non-empty line of stderr.
  std::string last_error_line() const;
};

WorkerOutcome run_worker(const WorkerRequest& request);

// Path of the alloclab-worker binary installed beside the running one.
std::string worker_executable();

}  // namespace alloclab
