// Capture: the preloaded library on a real multi-threaded program
// (fixtures/capture_fixture.cpp), the converter on hand-written events, the
// `alloclab trace capture` command, and scope inference.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "workloads/capture/capture_convert.hpp"
#include "workloads/capture/capture_run.hpp"
#include "workloads/scopes.hpp"
#include "workloads/trace_builder.hpp"
#include "workloads/trace_check.hpp"
#include "workloads/trace_file.hpp"
#include "workloads/trace_info.hpp"

namespace alloclab {
namespace {

using capture::Call;
using capture::Event;
using namespace trace;

constexpr int kThreads = 3;
constexpr int kRounds = 2000;

std::uint64_t allocs_of_size(const Trace& t, std::uint32_t size) {
  std::uint64_t n = 0;
  for (const auto& s : t.threads)
    for (const Op& op : s) n += op.kind == OpKind::alloc && op.b == size;
  return n;
}

struct Captured {
  capture::ProgramRun run;
  std::vector<capture::ProcessEvents> processes;
  std::vector<capture::Converted> converted;  // same order as processes
};

Captured capture_fixture(int threads, int rounds, const std::string& mode) {
  capture::TempDir raw("capture-test");
  Captured c;
  c.run = capture::run_captured({CAPTURE_FIXTURE, std::to_string(threads), std::to_string(rounds), mode},
                                ALLOCLAB_CAPTURE_LIB, raw.path());
  c.processes = capture::scan(raw.path());
  for (const auto& p : c.processes) c.converted.push_back(capture::convert(p, {{"command", mode}}));
  return c;
}

TEST(CaptureLibrary, RecordsEveryCallOfAMultiThreadedProgram) {
  Captured c = capture_fixture(kThreads, kRounds, "exit");
  ASSERT_TRUE(WIFEXITED(c.run.wait_status));
  EXPECT_EQ(WEXITSTATUS(c.run.wait_status), 3);  // the program's own status
  ASSERT_EQ(c.processes.size(), 1u);
  const Trace& t = c.converted[0].trace;
  const capture::ConvertStats& st = c.converted[0].stats;
  EXPECT_NO_THROW(check(t));
  EXPECT_EQ(t.threads.size(), kThreads + 1u);

  std::uint64_t worker_blocks = 4ull * kThreads * kRounds;
  EXPECT_GE(st.count(Call::malloc), worker_blocks);
  EXPECT_GE(st.count(Call::free), worker_blocks);
  EXPECT_GE(st.count(Call::calloc), 1u);
  EXPECT_GE(st.count(Call::realloc), 2u);
  EXPECT_GE(st.count(Call::aligned_alloc), 1u);
  EXPECT_GE(st.count(Call::posix_memalign), 1u);
  EXPECT_GE(st.count(Call::memalign), 1u);
  EXPECT_GE(st.count(Call::valloc), 1u);
  EXPECT_EQ(st.live_reuse, 0u);

  TraceInfo info = analyze(t);
  EXPECT_GE(info.count(OpKind::alloc), worker_blocks + 6);
  EXPECT_GE(info.count(OpKind::free), worker_blocks + 6);
  EXPECT_GE(info.count(OpKind::realloc), 2u);
  EXPECT_GE(info.aligned_allocs, 4u);
  EXPECT_GT(info.cross_thread_frees, 0u);
  EXPECT_EQ(allocs_of_size(t, 999), 1u);  // calloc(3, 333)
  for (std::uint32_t size : {24u, 200u, 1500u, 9000u}) EXPECT_GE(allocs_of_size(t, size), 1ull * kThreads * kRounds);
  auto meta = nlohmann::json::parse(t.metadata);
  EXPECT_EQ(meta["model"], "capture");
  EXPECT_EQ(meta["pid"], c.run.pid);
}

TEST(CaptureLibrary, SigtermFlushesAndKeepsItsDefaultAction) {
  Captured c = capture_fixture(2, kRounds, "term");
  ASSERT_TRUE(WIFSIGNALED(c.run.wait_status));
  EXPECT_EQ(WTERMSIG(c.run.wait_status), SIGTERM);
  ASSERT_EQ(c.processes.size(), 1u);
  // Main's last mallocs were only in its buffer when the signal came.
  EXPECT_EQ(allocs_of_size(c.converted[0].trace, 77), static_cast<std::uint64_t>(kRounds));
  EXPECT_EQ(c.converted[0].trace.threads.size(), 3u);
}

TEST(CaptureLibrary, AProgramsOwnSignalHandlerWins) {
  Captured c = capture_fixture(1, 10, "handler");
  ASSERT_TRUE(WIFEXITED(c.run.wait_status));
  EXPECT_EQ(WEXITSTATUS(c.run.wait_status), 4);
}

TEST(CaptureLibrary, AForkedChildWritesOnlyItsOwnEvents) {
  Captured c = capture_fixture(2, 500, "fork");
  ASSERT_TRUE(WIFEXITED(c.run.wait_status));
  EXPECT_EQ(WEXITSTATUS(c.run.wait_status), 0);
  ASSERT_EQ(c.processes.size(), 2u);
  // The child did the thread work, so it has the most events.
  const Trace& child = c.converted[0].trace;
  const Trace& parent = c.converted[1].trace;
  EXPECT_NE(c.processes[0].pid, static_cast<std::uint64_t>(c.run.pid));
  EXPECT_EQ(c.processes[1].pid, static_cast<std::uint64_t>(c.run.pid));
  EXPECT_EQ(allocs_of_size(child, 777), 0u);     // the parent's buffered events stay the parent's
  EXPECT_EQ(allocs_of_size(parent, 777), 100u);  // written once, not again by the child
  EXPECT_GE(c.converted[0].stats.count(Call::malloc), 4u * 2 * 500);
  EXPECT_EQ(child.threads.size(), 3u);
}

// 200,000 mallocs, then a SIGSEGV: before the handler flushed, only the
// full buffers reached a file (195,826 of the 200,000) and nothing said so.
TEST(CaptureLibrary, AFatalSignalFlushesEveryEventAndSaysHowTheProcessEnded) {
  constexpr int kMallocs = 200000;
  Captured c = capture_fixture(1, kMallocs, "segv");
  ASSERT_TRUE(WIFSIGNALED(c.run.wait_status)) << c.run.wait_status;
  EXPECT_EQ(WTERMSIG(c.run.wait_status), SIGSEGV);  // the default action, after our handler
  ASSERT_EQ(c.processes.size(), 1u);
  const capture::ProcessEvents& p = c.processes[0];
  EXPECT_EQ(allocs_of_size(c.converted[0].trace, 55), static_cast<std::uint64_t>(kMallocs));
  ASSERT_TRUE(p.end.has_value());
  EXPECT_EQ(p.end->how, capture::Ending::signal);
  EXPECT_EQ(p.end->code, SIGSEGV);
  EXPECT_EQ(p.end->made, p.events);
  EXPECT_EQ(p.lost(), 0u);
  EXPECT_EQ(capture::describe_ending(p), "killed by SIGSEGV");
}

// _exit skips destructors and atexit: the child's events were only in its
// buffer.
TEST(CaptureLibrary, AChildLeavingWithUnderscoreExitIsFlushed) {
  Captured c = capture_fixture(1, 1000, "fork_exit");
  ASSERT_TRUE(WIFEXITED(c.run.wait_status));
  EXPECT_EQ(WEXITSTATUS(c.run.wait_status), 0);
  ASSERT_EQ(c.processes.size(), 2u);
  const capture::ProcessEvents& child = c.processes[0];
  const capture::ProcessEvents& parent = c.processes[1];
  EXPECT_NE(child.pid, static_cast<std::uint64_t>(c.run.pid));
  EXPECT_EQ(parent.pid, static_cast<std::uint64_t>(c.run.pid));
  EXPECT_EQ(allocs_of_size(c.converted[0].trace, 555), 1000u);
  EXPECT_EQ(allocs_of_size(c.converted[1].trace, 555), 0u);
  EXPECT_EQ(allocs_of_size(c.converted[1].trace, 666), 10u);
  EXPECT_EQ(capture::describe_ending(child), "_exit(0)");
  EXPECT_EQ(capture::describe_ending(parent), "exit");
  EXPECT_EQ(child.lost(), 0u);
  EXPECT_EQ(parent.lost(), 0u);
}

// SIGKILL leaves no chance to flush: the image's End file stays empty, so
// the loss is known rather than silent.
TEST(CaptureLibrary, AnImageKilledBeforeItsFinalFlushIsKnown) {
  Captured c = capture_fixture(1, 100, "kill");
  ASSERT_TRUE(WIFSIGNALED(c.run.wait_status));
  EXPECT_EQ(WTERMSIG(c.run.wait_status), SIGKILL);
  ASSERT_EQ(c.processes.size(), 1u);
  EXPECT_EQ(c.processes[0].pid, static_cast<std::uint64_t>(c.run.pid));
  EXPECT_EQ(c.processes[0].events, 0u);
  EXPECT_TRUE(c.processes[0].unfinished());
  EXPECT_EQ(capture::describe_ending(c.processes[0]), "no final flush");
}

// execvp reaches the kernel inside glibc; the image it ends is flushed
// all the same, and its successor in the same pid is another image.
TEST(CaptureLibrary, AnImageEndedByExecIsFlushed) {
  Captured c = capture_fixture(1, 1000, "exec");
  ASSERT_TRUE(WIFEXITED(c.run.wait_status));
  EXPECT_EQ(WEXITSTATUS(c.run.wait_status), 3);  // the program it became
  ASSERT_EQ(c.processes.size(), 2u);
  std::size_t before = allocs_of_size(c.converted[0].trace, 88) ? 0 : 1;
  EXPECT_EQ(allocs_of_size(c.converted[before].trace, 88), 1000u);
  EXPECT_EQ(capture::describe_ending(c.processes[before]), "exec");
  EXPECT_EQ(capture::describe_ending(c.processes[1 - before]), "exit");
  for (const auto& p : c.processes) {
    EXPECT_EQ(p.pid, static_cast<std::uint64_t>(c.run.pid));
    EXPECT_EQ(p.lost(), 0u);
  }
}

TEST(CaptureLibrary, AProgramThatCannotStartIsAStartError) {
  capture::TempDir raw("capture-test");
  EXPECT_THROW(capture::run_captured({"/nonexistent/program"}, ALLOCLAB_CAPTURE_LIB, raw.path()), capture::StartError);
}

// --- the converter on hand-written events -------------------------------------

struct EventFiles {
  capture::TempDir dir{"capture-test"};
  std::uint64_t seq = 0;
  void add(int tid, Call call, std::uint64_t ptr, std::uint64_t size = 0, std::uint8_t align_log2 = 0) {
    Event e{seq++, ptr, size, call, align_log2, 0, 0};
    std::ofstream(dir.path() + "/100-7-" + std::to_string(tid) + ".ev", std::ios::binary | std::ios::app)
        .write(reinterpret_cast<const char*>(&e), sizeof e);
  }
  capture::Converted convert() {
    auto procs = capture::scan(dir.path());
    EXPECT_EQ(procs.size(), 1u);
    return capture::convert(procs.at(0), nlohmann::json::object());
  }
};

TEST(CaptureConvert, MapsAddressesToSlotsAndCountsWhatItSkips) {
  EventFiles f;
  f.add(1, Call::malloc, 0x1000, 100);
  f.add(1, Call::free, 0x9000);    // allocated before capture
  f.add(1, Call::realloc_old, 0);  // realloc(NULL, 50) allocates
  f.add(1, Call::realloc, 0x2000, 50);
  f.add(1, Call::realloc_old, 0x1000);  // moves the block
  f.add(1, Call::realloc, 0x3000, 4000);
  f.add(2, Call::malloc, 0x1000, 64);                // the old address, reused on another thread
  f.add(1, Call::malloc, 0, 1ull << 40);             // failed
  f.add(1, Call::memalign, 0x4000, 4096, 20);        // alignment 1 MiB: clamped
  f.add(1, Call::malloc, 0x5000, (1ull << 30) + 1);  // over 1 GiB: left out, with its free
  f.add(1, Call::free, 0x5000);
  f.add(1, Call::realloc_old, 0x2000);  // realloc(p, 0) freed it
  f.add(1, Call::realloc, 0, 0);
  f.add(2, Call::free, 0x3000);       // cross-thread
  f.add(2, Call::malloc, 0x4000, 8);  // still live: its free was never recorded
  capture::Converted c = f.convert();
  EXPECT_EQ(c.stats.unknown_frees, 1u);
  EXPECT_EQ(c.stats.failed, 1u);
  EXPECT_EQ(c.stats.align_clamped, 1u);
  EXPECT_EQ(c.stats.oversize, 1u);
  EXPECT_EQ(c.stats.live_reuse, 1u);
  EXPECT_EQ(c.stats.events, 15u);
  EXPECT_EQ(c.trace.threads.size(), 2u);
  EXPECT_NO_THROW(check(c.trace));
  TraceInfo info = analyze(c.trace);
  EXPECT_EQ(info.count(OpKind::alloc), 5u);  // 0x1000, 0x2000, 0x1000 again, 0x4000, 0x4000 again
  EXPECT_EQ(info.count(OpKind::realloc), 1u);
  EXPECT_EQ(info.count(OpKind::free), 3u);  // 0x2000, 0x3000, and 0x4000 closed by its reuse
  EXPECT_EQ(info.cross_thread_frees, 2u);
  EXPECT_EQ(info.end_live_blocks, 2u);
  EXPECT_EQ(allocs_of_size(c.trace, 4096), 1u);
  auto meta = nlohmann::json::parse(c.trace.metadata);
  EXPECT_EQ(meta["calls"]["malloc"], 5);
  EXPECT_EQ(meta["skipped"]["oversize"], 1);
}

TEST(CaptureConvert, AFailedReallocKeepsTheOldBlock) {
  EventFiles f;
  f.add(1, Call::malloc, 0x1000, 10);
  f.add(1, Call::realloc_old, 0x1000);
  f.add(1, Call::realloc, 0, 1ull << 40);
  f.add(1, Call::free, 0x1000);
  capture::Converted c = f.convert();
  EXPECT_EQ(c.stats.failed, 1u);
  EXPECT_EQ(c.stats.unknown_frees, 0u);
  EXPECT_EQ(analyze(c.trace).count(OpKind::free), 1u);
}

TEST(CaptureConvert, AnEndRecordTellsTheEventsThatNeverReachedAFile) {
  EventFiles f;
  for (int i = 0; i < 3; ++i) f.add(1, Call::malloc, 0x1000 + 0x100 * i, 10);
  capture::End end{capture::kEndMagic, 5, capture::Ending::signal, SIGSEGV, 0};
  std::ofstream(f.dir.path() + "/100-7.end", std::ios::binary).write(reinterpret_cast<const char*>(&end), sizeof end);
  std::ofstream(f.dir.path() + "/200-7.end");  // another image: started, never finished, nothing flushed
  auto procs = capture::scan(f.dir.path());
  ASSERT_EQ(procs.size(), 2u);
  EXPECT_EQ(procs[0].pid, 100u);
  EXPECT_EQ(procs[0].events, 3u);
  EXPECT_EQ(procs[0].lost(), 2u);
  EXPECT_FALSE(procs[0].unfinished());
  EXPECT_EQ(procs[1].pid, 200u);
  EXPECT_EQ(procs[1].events, 0u);
  EXPECT_TRUE(procs[1].unfinished());
  EXPECT_EQ(procs[1].lost(), 0u);  // unknown
  auto meta = nlohmann::json::parse(capture::convert(procs[0], nlohmann::json::object()).trace.metadata);
  EXPECT_EQ(meta["lost_events"], 2);
  EXPECT_EQ(meta["ended"], "killed by SIGSEGV");
}

TEST(CaptureConvert, ATornFileKeepsItsWholeEvents) {
  EventFiles f;
  f.add(1, Call::malloc, 0x1000, 10);
  std::ofstream(f.dir.path() + "/100-7-1.ev", std::ios::binary | std::ios::app) << "xyz";
  capture::Converted c = f.convert();
  EXPECT_EQ(c.stats.torn_bytes, 3u);
  EXPECT_EQ(analyze(c.trace).count(OpKind::alloc), 1u);
}

// --- the command line ----------------------------------------------------------

#ifdef ALLOCLAB_BIN
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int shell(const std::string& cmd) { return std::system(cmd.c_str()); }

TEST(CaptureCommand, PassesTheProgramsOutputAndStatusThrough) {
  capture::TempDir dir("capture-test");
  std::string out = dir.path() + "/t.trace", so = dir.path() + "/stdout", se = dir.path() + "/stderr";
  int status = shell(std::string(ALLOCLAB_BIN) + " trace capture -o " + out + " --measure-overhead -- " +
                     CAPTURE_FIXTURE + " 2 500 exit >" + so + " 2>" + se);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(slurp(so), "fixture: 2 threads, 500 rounds\nfixture: 2 threads, 500 rounds\n");  // untraced, traced
  std::string err = slurp(se);
  EXPECT_NE(err.find("fixture: done"), std::string::npos);
  EXPECT_NE(err.find("overhead"), std::string::npos) << err;
  Trace t = read_trace(out);
  EXPECT_EQ(t.threads.size(), 3u);
  EXPECT_GE(allocs_of_size(t, 9000), 1000u);
}

TEST(CaptureCommand, AKilledProgramStillGivesATraceAndItsSignal) {
  capture::TempDir dir("capture-test");
  std::string out = dir.path() + "/t.trace";
  capture::ProgramRun run =
      capture::run_program({ALLOCLAB_BIN, "trace", "capture", "-o", out, "--", CAPTURE_FIXTURE, "1", "100", "term"},
                           {{"TMPDIR", dir.path()}});
  ASSERT_TRUE(WIFSIGNALED(run.wait_status));
  EXPECT_EQ(WTERMSIG(run.wait_status), SIGTERM);
  EXPECT_EQ(allocs_of_size(read_trace(out), 77), 100u);
  // The raw events went before alloclab died of the same signal.
  auto left = std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator());
  EXPECT_EQ(left, 1);
}

// Runs alloclab through `sh -c 'exec env TMPDIR=DIR ...'`, so the status is
// alloclab's own (a death by signal included) and its stale-directory sweep
// sees only the test's directory.
int capture_in(const std::string& dir, const std::string& args, const std::string& redirects) {
  return shell("exec env TMPDIR=" + dir + " " + ALLOCLAB_BIN + " trace capture " + args + " " + redirects);
}

std::size_t raw_dirs_in(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    n += e.path().filename().string().rfind("alloclab-capture", 0) == 0;
  return n;
}

TEST(CaptureCommand, AProgramKilledBySigsegvGivesItsEventsAndDiesOfItsSignal) {
  capture::TempDir dir("capture-test");
  std::string out = dir.path() + "/t.trace", se = dir.path() + "/stderr";
  int status = capture_in(dir.path(), "-o " + out + " -- " + CAPTURE_FIXTURE + " 1 100 segv", "2>" + se);
  std::string err = slurp(se);
  ASSERT_TRUE(WIFSIGNALED(status)) << status << "\n" << err;
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  EXPECT_NE(err.find("traced run: "), std::string::npos) << err;
  EXPECT_NE(err.find("killed by SIGSEGV"), std::string::npos) << err;
  EXPECT_EQ(err.find("warning"), std::string::npos) << err;
  Trace t = read_trace(out);
  EXPECT_EQ(allocs_of_size(t, 55), 100u);
  auto meta = nlohmann::json::parse(t.metadata);
  EXPECT_EQ(meta["ended"], "killed by SIGSEGV");
  EXPECT_EQ(meta["lost_events"], 0);
  EXPECT_EQ(raw_dirs_in(dir.path()), 0u);
}

TEST(CaptureCommand, AChildThatLeavesWithUnderscoreExitIsListedAndCaptured) {
  capture::TempDir dir("capture-test");
  std::string out = dir.path() + "/t.trace", so = dir.path() + "/stdout", se = dir.path() + "/stderr";
  int status = capture_in(dir.path(), "-o " + out + " -- " + CAPTURE_FIXTURE + " 1 1000 fork_exit",
                          ">" + so + " 2>" + se);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::string printed = slurp(so), err = slurp(se);
  ASSERT_EQ(printed.rfind("fixture: forked ", 0), 0u) << printed;
  std::uint64_t child = std::stoull(printed.substr(16));
  EXPECT_NE(err.find("trace of pid " + std::to_string(child) + " ("), std::string::npos) << err;
  EXPECT_NE(err.find("_exit(0)"), std::string::npos) << err;
  EXPECT_NE(err.find("other processes (choose with --pid): pid "), std::string::npos) << err;
  Trace t = read_trace(out);
  EXPECT_EQ(nlohmann::json::parse(t.metadata)["pid"].get<std::uint64_t>(), child);
  EXPECT_EQ(allocs_of_size(t, 555), 1000u);
}

// 40,000 mallocs, then SIGKILL: the first full buffer reached a file, the
// rest never did, and alloclab says so.
TEST(CaptureCommand, EventsLostToSigkillAreReported) {
  capture::TempDir dir("capture-test");
  std::string out = dir.path() + "/t.trace", se = dir.path() + "/stderr";
  int status = capture_in(dir.path(), "-o " + out + " -- " + CAPTURE_FIXTURE + " 1 40000 kill", "2>" + se);
  std::string err = slurp(se);
  ASSERT_TRUE(WIFSIGNALED(status)) << status << "\n" << err;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_NE(err.find("ends without its final flush (killed by SIGKILL?): its last events may be missing"),
            std::string::npos)
      << err;
  std::uint64_t got = allocs_of_size(read_trace(out), 33);
  EXPECT_GT(got, 0u);
  EXPECT_LT(got, 40000u);
}

// A kill -9 of alloclab: the program dies with it (it would sleep 30 s),
// and the next capture removes the event directory left behind.
TEST(CaptureCommand, AKillOfTheCaptureKillsTheProgramAndTheNextCaptureTidiesUp) {
  capture::TempDir dir("capture-test");
  std::string pidfile = dir.path() + "/pid";
  std::vector<std::string> args = {ALLOCLAB_BIN,    "trace", "capture", "-o", dir.path() + "/t.trace",
                                   "--",            CAPTURE_FIXTURE, "1", "100", "sleep", pidfile};
  std::vector<std::string> env = {"TMPDIR=" + dir.path()};
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("TMPDIR=", 0) != 0) env.emplace_back(*e);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  for (auto& e : env) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);

  // The program, orphaned, comes back to us to be reaped (or killed, if it
  // outlives alloclab).
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t alloclab = ::fork();
  ASSERT_GE(alloclab, 0);
  if (alloclab == 0) {
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pid_t program = 0;
  for (int i = 0; i < 1000 && program == 0; ++i) {
    std::ifstream in(pidfile);
    if (!(in >> program)) {
      program = 0;
      ::usleep(10000);
    }
  }
  ::kill(alloclab, SIGKILL);
  int status = 0;
  ::waitpid(alloclab, &status, 0);
  bool gone = false;
  for (int i = 0; i < 200 && program > 0 && !gone; ++i) {
    pid_t r = ::waitpid(program, &status, WNOHANG);
    gone = r == program || (r < 0 && ::kill(program, 0) != 0 && errno == ESRCH);
    if (!gone) ::usleep(10000);
  }
  if (program > 0 && !gone) {
    ::kill(program, SIGKILL);
    ::waitpid(program, nullptr, 0);
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  ASSERT_GT(program, 0) << "the program never wrote " << pidfile;
  EXPECT_TRUE(gone) << "the program outlived alloclab by 2 s";

  ASSERT_EQ(raw_dirs_in(dir.path()), 1u);  // the killed capture's
  std::string se = dir.path() + "/stderr";
  status = capture_in(dir.path(), "-o " + dir.path() + "/t2.trace -- " + CAPTURE_FIXTURE + " 1 10 exit",
                      ">/dev/null 2>" + se);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(raw_dirs_in(dir.path()), 0u);
  EXPECT_NE(slurp(se).find("removed 1 event directory left by captures that were killed"), std::string::npos)
      << slurp(se);
}

TEST(CaptureCommand, WritesTheProcessWithTheMostEventsOrTheOneAskedFor) {
  capture::TempDir dir("capture-test");
  std::string out = dir.path() + "/t.trace", se = dir.path() + "/stderr";
  int status = shell(std::string(ALLOCLAB_BIN) + " trace capture -o " + out + " -- " + CAPTURE_FIXTURE +
                     " 2 300 fork >/dev/null 2>" + se);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::string err = slurp(se);
  EXPECT_NE(err.find("other processes (choose with --pid): pid "), std::string::npos) << err;
  auto meta = nlohmann::json::parse(read_trace(out).metadata);
  ASSERT_EQ(meta["other_processes"].size(), 1u);
  std::uint64_t parent = meta["other_processes"][0]["pid"];
  EXPECT_NE(meta["pid"].get<std::uint64_t>(), parent);
  // --pid names a process of this run only, so a fresh run cannot pick the
  // same one; an absent pid is bad input.
  status = shell(std::string(ALLOCLAB_BIN) + " trace capture --pid 1 -o " + out + " -- " + CAPTURE_FIXTURE +
                 " 1 10 exit >/dev/null 2>" + se);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(slurp(se).find("pid 1 made no allocations"), std::string::npos);
}

TEST(CaptureCommand, BadInputIsExitTwo) {
  capture::TempDir dir("capture-test");
  std::string bin = ALLOCLAB_BIN;
  auto code = [&](const std::string& args) {
    int s = shell(bin + " trace " + args + " >/dev/null 2>&1");
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  };
  EXPECT_EQ(code("capture -o " + dir.path() + "/t.trace"), 2);  // no command
  EXPECT_EQ(code("capture -- true"), 2);                        // no -o
  EXPECT_EQ(code("capture -o " + dir.path() + "/t.trace -- /nonexistent/x"), 2);
  EXPECT_EQ(code("capture -o /nonexistent/dir/t.trace -- true"), 2);
  EXPECT_EQ(code("scopes " + dir.path() + "/missing -o " + dir.path() + "/s.trace"), 2);
}
#endif

// --- scope inference -------------------------------------------------------------

constexpr std::uint32_t kPool = 4096;

// nginx-shaped: per request a 4096 B pool aligned 16, blocks allocated and
// freed inside it, the large ones freed just before the pool; a second pool
// block freed right after the first, as ngx_destroy_pool does.
struct NginxLike {
  TraceBuilder b{2};
  std::uint32_t long_lived = b.alloc(0, 300);
  std::uint32_t never = 0, escaping = 0, handed = 0;

  void request(bool grow) {
    std::uint32_t pool = b.alloc(0, kPool, TraceBuilder::kNone, 16);
    std::uint32_t a = b.alloc(0, 100);
    b.free(0, a);
    std::uint32_t large = b.alloc(0, 8000);
    std::uint32_t more = grow ? b.alloc(0, kPool, TraceBuilder::kNone, 16) : 0;
    std::uint32_t c = b.alloc(0, 24);
    b.free(0, c);
    b.free(0, large);
    b.free(0, pool);
    if (grow) b.free(0, more);
  }
  Trace build() {
    request(false);
    escaping = b.alloc(0, 50);  // allocated between requests, freed in the next one: outside
    request(true);
    std::uint32_t pool = b.alloc(0, kPool, TraceBuilder::kNone, 16);
    std::uint32_t outlives = b.alloc(0, 60);
    handed = b.alloc(0, 70);  // freed by thread 1
    never = b.alloc(0, 80);
    b.free(0, escaping);
    b.free(0, pool);
    b.free(0, long_lived);
    b.free(0, outlives);
    b.free(1, handed);
    return b.finish("{\"model\":\"capture\"}");
  }
};

TEST(Scopes, DetectsTheRequestPoolAndScopesWhatLivesInside) {
  Trace in = NginxLike().build();
  ScopedTrace s = infer_scopes(in);
  const ScopeReport& r = s.report;
  ASSERT_TRUE(r.found);
  EXPECT_TRUE(r.detected);
  EXPECT_EQ(r.anchor_size, kPool);
  EXPECT_EQ(r.anchor_align, 16u);
  EXPECT_EQ(r.request_scopes, 3u);
  EXPECT_EQ(r.child_scopes, 0u);
  EXPECT_EQ(r.joined_anchors, 1u);  // the growing request's second pool block
  EXPECT_EQ(r.allocs, 15u);
  EXPECT_EQ(r.scoped_allocs, 10u);  // 3 pool blocks, 3 + 4 blocks inside
  EXPECT_EQ(r.outside, 2u);         // long_lived, escaping
  EXPECT_EQ(r.outlives, 1u);
  EXPECT_EQ(r.cross_thread, 1u);
  EXPECT_EQ(r.never_freed, 1u);
  EXPECT_EQ(r.unscoped_allocs() + r.scoped_allocs, r.allocs);
  EXPECT_EQ(r.releases, 8u);  // each pool's closing run: 3 (c, large, pool), 4, 1

  EXPECT_NO_THROW(check(s.trace));
  TraceInfo info = analyze(s.trace);
  EXPECT_EQ(info.scopes_by_kind[static_cast<int>(ScopeKind::request)], 3u);
  EXPECT_EQ(info.scoped_allocs, r.scoped_allocs);
  EXPECT_EQ(info.count(OpKind::release), r.releases);
  // The same program for a general allocator: every block still allocated
  // and freed once (frees + releases).
  TraceInfo before = analyze(in);
  EXPECT_EQ(info.count(OpKind::alloc), before.count(OpKind::alloc));
  EXPECT_EQ(info.count(OpKind::free) + info.count(OpKind::release), before.count(OpKind::free));
  EXPECT_EQ(info.peak_live_bytes, before.peak_live_bytes);
  EXPECT_EQ(nlohmann::json::parse(s.trace.metadata)["scopes"]["request_scopes"], 3);
}

TEST(Scopes, AGivenAnchorSizeThatNeverOccursScopesNothing) {
  ScopedTrace s = infer_scopes(NginxLike().build(), {.anchor_size = 12345});
  EXPECT_TRUE(s.report.found);
  EXPECT_FALSE(s.report.detected);
  EXPECT_EQ(s.trace.scope_count, 0u);
  EXPECT_EQ(s.report.outside, 13u);
  EXPECT_NO_THROW(check(s.trace));
}

TEST(Scopes, AGivenAlignmentFiltersAnchors) {
  ScopedTrace s = infer_scopes(NginxLike().build(), {.anchor_size = kPool, .anchor_align = 64});
  EXPECT_EQ(s.trace.scope_count, 0u);
  ScopedTrace t = infer_scopes(NginxLike().build(), {.anchor_size = kPool, .anchor_align = 16});
  EXPECT_EQ(t.trace.scope_count, 3u);
}

TEST(Scopes, AnAnchorInsideAnotherOpensAChildScope) {
  TraceBuilder b(1);
  for (int i = 0; i < 2; ++i) {
    std::uint32_t outer = b.alloc(0, 512);
    std::uint32_t x = b.alloc(0, 10);
    std::uint32_t inner = b.alloc(0, 512);
    std::uint32_t y = b.alloc(0, 20);
    b.free(0, y);
    b.free(0, inner);
    b.free(0, x);
    b.free(0, outer);
  }
  ScopedTrace s = infer_scopes(b.finish("{}"));
  EXPECT_EQ(s.report.anchor_size, 512u);
  EXPECT_EQ(s.report.request_scopes, 2u);
  EXPECT_EQ(s.report.child_scopes, 2u);
  EXPECT_EQ(s.report.scoped_allocs, 8u);
  EXPECT_EQ(s.report.releases, 8u);
  EXPECT_NO_THROW(check(s.trace));
  TraceInfo info = analyze(s.trace);
  EXPECT_EQ(info.max_scope_depth, 2u);
  EXPECT_EQ(info.count(OpKind::free), 0u);
}

TEST(Scopes, NothingRepeatsSoNothingIsDetected) {
  TraceBuilder b(1);
  std::uint32_t x = b.alloc(0, 10);
  std::uint32_t y = b.alloc(0, 20);
  b.free(0, y);
  b.free(0, x);
  ScopedTrace s = infer_scopes(b.finish("{}"));
  EXPECT_FALSE(s.report.found);
  EXPECT_EQ(s.trace.scope_count, 0u);
  EXPECT_NE(describe(s.report).find("no anchor"), std::string::npos);
}

TEST(Scopes, ExistingScopesAreReplaced) {
  TraceBuilder b(1);
  for (int i = 0; i < 3; ++i) {
    std::uint32_t scope = b.open(0, ScopeKind::request);
    std::uint32_t anchor = b.alloc(0, 512);
    std::uint32_t inner = b.alloc(0, 40, scope);
    b.free(0, anchor);
    b.close(0, scope);
    (void)inner;
  }
  ScopedTrace s = infer_scopes(b.finish("{}"), {.anchor_size = 512});
  EXPECT_EQ(s.report.dropped_scopes, 3u);
  EXPECT_EQ(s.report.request_scopes, 3u);
  EXPECT_NO_THROW(check(s.trace));
}

}  // namespace
}  // namespace alloclab
