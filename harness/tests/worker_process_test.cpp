// run_worker classifies every way a child can end, and never dies with it.
#include "harness/worker_process.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace alloclab {
namespace {

WorkerOutcome sh(const std::string& script, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  WorkerRequest req;
  req.argv = {"/bin/sh", "-c", script};
  req.timeout = timeout;
  return run_worker(req);
}

TEST(RunWorker, CapturesOutputAndExitStatus) {
  auto o = sh("echo out; echo err >&2; exit 3");
  EXPECT_EQ(o.status, WorkerOutcome::Status::exited);
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.out, "out\n");
  EXPECT_EQ(o.last_error_line(), "err");
  EXPECT_EQ(o.describe(), "exit 3: err");
  EXPECT_FALSE(o.ok());
  EXPECT_TRUE(sh("true").ok());
}

TEST(RunWorker, RecordsTheSignalOfACrash) {
  auto o = sh("kill -SEGV $$");
  EXPECT_EQ(o.status, WorkerOutcome::Status::signaled);
  EXPECT_EQ(o.signal, SIGSEGV);
  EXPECT_EQ(o.describe(), "killed by SIGSEGV");
}

TEST(RunWorker, KillsAHangAtTheTimeout) {
  auto o = sh("sleep 30", std::chrono::milliseconds(300));
  EXPECT_EQ(o.status, WorkerOutcome::Status::timed_out);
  EXPECT_LT(o.wall_seconds, 5.0);
}

TEST(RunWorker, KillsAHangThatClosedItsOutput) {
  auto o = sh("exec >&- 2>&-; sleep 30", std::chrono::milliseconds(300));
  EXPECT_EQ(o.status, WorkerOutcome::Status::timed_out);
  EXPECT_LT(o.wall_seconds, 5.0);
}

TEST(RunWorker, KillsTheWholeProcessGroupOnTimeout) {
  // A grandchild holding the pipe open must not keep us waiting.
  auto o = sh("sleep 30 & sleep 30", std::chrono::milliseconds(300));
  EXPECT_EQ(o.status, WorkerOutcome::Status::timed_out);
  EXPECT_LT(o.wall_seconds, 5.0);
}

TEST(RunWorker, StopsARunawayWriter) {
  WorkerRequest req;
  req.argv = {"/bin/sh", "-c", "yes"};
  req.max_stdout_bytes = 1 << 20;
  auto o = run_worker(req);
  EXPECT_EQ(o.status, WorkerOutcome::Status::output_overflow);
  EXPECT_EQ(o.out.size(), std::size_t{1} << 20);
}

TEST(RunWorker, MemoryLimitMakesAllocationFailInsteadOfOom) {
  WorkerRequest req;
  // head -c of /dev/zero into a shell variable needs the memory; with a
  // 64 MiB address-space cap the shell cannot get 256 MiB.
  req.argv = {"/bin/sh", "-c", "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo ${#x}"};
  req.memory_limit_bytes = 64ull << 20;
  auto o = run_worker(req);
  EXPECT_FALSE(o.ok() && o.out == "268435456\n") << o.describe();
}

TEST(RunWorker, ReportsAMissingExecutable) {
  WorkerRequest req;
  req.argv = {"/nonexistent/alloclab-worker"};
  auto o = run_worker(req);
  EXPECT_EQ(o.status, WorkerOutcome::Status::exited);
  EXPECT_EQ(o.exit_code, 127);
}

TEST(RunWorker, SetsAndClearsLdPreload) {
  ::setenv("LD_PRELOAD", "", 1);
  WorkerRequest req;
  req.argv = {"/bin/sh", "-c", "echo \"[$LD_PRELOAD]\""};
  EXPECT_EQ(run_worker(req).out, "[]\n");
  req.preload = "/lib/x86_64-linux-gnu/libc.so.6";
  EXPECT_EQ(run_worker(req).out, "[/lib/x86_64-linux-gnu/libc.so.6]\n");
  ::unsetenv("LD_PRELOAD");
}

}  // namespace
}  // namespace alloclab
