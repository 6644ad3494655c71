// alloclab trace capture -o FILE [--pid PID] [--measure-overhead] -- CMD ARGS...
//   Runs CMD with the capture library preloaded and writes the allocation
//   trace of one of its processes. The program's stdin, stdout and stderr
//   are ours; our report goes to stderr; we exit with the program's status
//   (or die of its signal) unless capture itself failed.
// alloclab trace scopes IN -o OUT [--anchor-size N [--anchor-align A]] [--json]
//   Infers request scopes for a captured trace (workloads/scopes.hpp).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "harness/cli/cli.hpp"
#include "workloads/capture/capture_convert.hpp"
#include "workloads/capture/capture_run.hpp"
#include "workloads/scopes.hpp"
#include "workloads/trace_file.hpp"

namespace alloclab::cli {
namespace {

using nlohmann::json;

struct CaptureOptions {
  std::string out;
  std::vector<std::string> command;
  std::uint64_t pid = 0;
  bool measure = false;
};

// The raw events' directory: $TMPDIR/alloclab-capture-PID-XXXXXX.
constexpr const char* kRawPrefix = "alloclab-capture";

// liballoclab_capture.so is built beside the alloclab binary.
std::string capture_library() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  return self.substr(0, self.rfind('/') + 1) + "liballoclab_capture.so";
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  const char* name = ::sigabbrev_np(WTERMSIG(status));
  return "killed by " + (name ? "SIG" + std::string(name) : "signal " + std::to_string(WTERMSIG(status)));
}

json status_json(int status) {
  if (WIFEXITED(status)) return {{"exit", WEXITSTATUS(status)}};
  return {{"signal", WTERMSIG(status)}};
}

// Ends alloclab the way the program ended: its exit status, or its signal
// (without a core file of our own).
int pass_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  int sig = WTERMSIG(status);
  std::cout.flush();
  std::fflush(nullptr);
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::signal(sig, SIG_DFL);
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  return 128 + sig;
}

// The command as metadata, which the format bounds at 1 MiB: a huge
// argument list is cut short.
json command_json(const std::vector<std::string>& argv) {
  constexpr std::size_t kBudget = 64 * 1024;
  json out = json::array();
  std::size_t used = 0;
  for (const auto& a : argv) {
    used += a.size();
    if (used > kBudget) {
      out.push_back("... (" + std::to_string(argv.size() - out.size()) + " more arguments)");
      break;
    }
    out.push_back(a);
  }
  return out;
}

const capture::ProcessEvents* choose(const std::vector<capture::ProcessEvents>& procs, std::uint64_t pid) {
  if (pid == 0) return &procs.front();  // the most events
  for (const auto& p : procs)
    if (p.pid == pid) return &p;
  return nullptr;
}

// "pid P (N events, T threads, how it ended)".
std::string describe_process(const capture::ProcessEvents& p) {
  std::string ending = capture::describe_ending(p);
  return "pid " + std::to_string(p.pid) + " (" + std::to_string(p.events) + " events, " +
         std::to_string(p.files.size()) + (p.files.size() == 1 ? " thread" : " threads") +
         (ending.empty() ? "" : ", " + ending) + ")";
}

// The processes by events, the first few named (a shell script can start
// hundreds).
std::string process_list(const std::vector<capture::ProcessEvents>& procs, const capture::ProcessEvents* except) {
  constexpr std::size_t kNamed = 16;
  std::string s;
  std::size_t named = 0, rest = 0;
  for (const auto& p : procs) {
    if (&p == except) continue;
    if (named == kNamed) {
      ++rest;
      continue;
    }
    ++named;
    s += (s.empty() ? "" : ", ") + describe_process(p);
  }
  if (rest) s += " and " + std::to_string(rest) + " more";
  return s;
}

// One line for each process whose capture is known to miss events, the
// first few named.
void warn_losses(const std::vector<capture::ProcessEvents>& procs) {
  constexpr std::size_t kNamed = 8;
  std::size_t named = 0, rest = 0;
  for (const auto& p : procs) {
    std::string pid = std::to_string(p.pid);
    std::string line;
    if (p.lost()) {
      line = std::to_string(p.lost()) + " events of pid " + pid + " could not be flushed (it ended: " +
             capture::describe_ending(p) + ")";
    } else if (p.unfinished()) {
      bool exec = std::any_of(procs.begin(), procs.end(),
                              [&](const auto& q) { return q.pid == p.pid && q.image > p.image; });
      line = "the capture of pid " + pid +
             (exec ? " ends at an exec it did not see" : " ends without its final flush (killed by SIGKILL?)") +
             ": its last events may be missing";
    }
    if (line.empty()) continue;
    if (named == kNamed) {
      ++rest;
      continue;
    }
    ++named;
    std::fprintf(stderr, "alloclab: warning: %s\n", line.c_str());
  }
  if (rest) std::fprintf(stderr, "alloclab: warning: and %zu more processes with missing events\n", rest);
}

void print_summary(const capture::ConvertStats& st, const trace::Trace& t, const std::string& out, double wall_s) {
  std::string calls;
  json by_call = st.calls_json();
  for (const auto& [name, n] : by_call.items()) calls += " " + name + " " + std::to_string(n.get<std::uint64_t>());
  std::fprintf(stderr, "alloclab: calls:%s\n", calls.empty() ? " none" : calls.c_str());
  std::fprintf(stderr,
               "alloclab: skipped: %llu frees of blocks allocated before capture, %llu failed allocations, "
               "%llu reused live addresses, %llu blocks over 1 GiB, %llu alignments clamped, %llu torn bytes\n",
               static_cast<unsigned long long>(st.unknown_frees), static_cast<unsigned long long>(st.failed),
               static_cast<unsigned long long>(st.live_reuse), static_cast<unsigned long long>(st.oversize),
               static_cast<unsigned long long>(st.align_clamped), static_cast<unsigned long long>(st.torn_bytes));
  if (st.threads_folded)
    std::fprintf(stderr, "alloclab: %u threads beyond the format's %u were folded into others\n", st.threads_folded,
                 trace::kMaxThreads);
  std::fprintf(stderr, "alloclab: wrote %s: %zu thread%s, %llu ops, %u slots (%.0f events/s captured)\n", out.c_str(),
               t.threads.size(), t.threads.size() == 1 ? "" : "s", static_cast<unsigned long long>(t.op_count()),
               t.slot_count, wall_s > 0 ? static_cast<double>(st.events) / wall_s : 0.0);
}

int run_capture(const CaptureOptions& o) {
  if (o.command.empty()) {
    std::fprintf(stderr, "alloclab: no command to capture: alloclab trace capture -o FILE -- CMD ARGS...\n");
    return kExitBadInput;
  }
  namespace fs = std::filesystem;
  fs::path parent = fs::absolute(o.out).parent_path();
  if (!fs::is_directory(parent)) {
    std::fprintf(stderr, "alloclab: cannot write %s: no directory %s\n", o.out.c_str(), parent.c_str());
    return kExitBadInput;
  }
  std::string library = capture_library();
  if (::access(library.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "alloclab: capture library missing: %s (build target alloclab_capture)\n", library.c_str());
    return kExitInternal;
  }
  try {
    std::optional<capture::ProgramRun> plain;
    if (o.measure) {
      plain = capture::run_program(o.command);
      std::fprintf(stderr, "alloclab: untraced run: %.3f s (%s)\n", plain->wall_s,
                   describe_status(plain->wait_status).c_str());
    }
    // Named by our pid, so the next capture removes it if a kill -9 left it.
    if (int stale = capture::remove_stale_dirs(kRawPrefix))
      std::fprintf(stderr, "alloclab: removed %d event director%s left by captures that were killed\n", stale,
                   stale == 1 ? "y" : "ies");
    std::optional<capture::TempDir> raw;  // removed before we die of the program's signal
    raw.emplace(kRawPrefix);
    capture::ProgramRun run = capture::run_captured(o.command, library, raw->path());
    std::fprintf(stderr, "alloclab: traced run: %.3f s (%s)\n", run.wall_s, describe_status(run.wait_status).c_str());
    if (plain) {
      std::fprintf(stderr, "alloclab: overhead: traced / untraced wall time = %.2f\n",
                   plain->wall_s > 0 ? run.wall_s / plain->wall_s : 0.0);
      if (plain->wait_status != run.wait_status)
        std::fprintf(stderr, "alloclab: warning: the untraced run ended with %s, the traced one with %s\n",
                     describe_status(plain->wait_status).c_str(), describe_status(run.wait_status).c_str());
    }

    auto procs = capture::scan(raw->path());
    if (procs.empty()) {
      std::fprintf(stderr,
                   "alloclab: no allocation events recorded: the program made no malloc calls or ignored LD_PRELOAD "
                   "(static or setuid)\n");
      return kExitInternal;
    }
    if (procs.front().events == 0) {
      std::fprintf(stderr, "alloclab: no allocation events reached a file; captured: %s\n",
                   process_list(procs, nullptr).c_str());
      warn_losses(procs);
      return kExitInternal;
    }
    const capture::ProcessEvents* chosen = choose(procs, o.pid);
    if (!chosen || chosen->events == 0) {
      std::fprintf(stderr, "alloclab: pid %llu made no allocations; captured: %s\n",
                   static_cast<unsigned long long>(o.pid), process_list(procs, nullptr).c_str());
      return kExitBadInput;
    }
    std::fprintf(stderr, "alloclab: trace of %s\n", describe_process(*chosen).c_str());
    if (procs.size() > 1)
      std::fprintf(stderr, "alloclab: other processes (choose with --pid): %s\n", process_list(procs, chosen).c_str());
    warn_losses(procs);

    json meta = {
        {"command", command_json(o.command)}, {"wall_s", run.wall_s}, {"status", status_json(run.wait_status)}};
    if (plain) meta["untraced_wall_s"] = plain->wall_s;
    if (procs.size() > 1) {
      json others = json::array();  // the busiest hundred: metadata is bounded
      for (const auto& p : procs)
        if (&p != chosen && others.size() < 100)
          others.push_back({{"pid", p.pid}, {"events", p.events}, {"ended", capture::describe_ending(p)}});
      meta["other_processes"] = others;
      meta["process_count"] = procs.size();
    }
    capture::Converted c = capture::convert(*chosen, meta);
    trace::write_trace(c.trace, o.out);
    print_summary(c.stats, c.trace, o.out, run.wall_s);
    raw.reset();
    return pass_status(run.wait_status);
  } catch (const capture::StartError& e) {
    std::fprintf(stderr, "alloclab: %s\n", e.what());
    return kExitBadInput;
  }
}

struct ScopesOptions {
  std::string in, out;
  trace::ScopeOptions scope;
  bool as_json = false;
};

int run_scopes(const ScopesOptions& o) {
  if (std::uint32_t a = o.scope.anchor_align; a & (a - 1)) {
    std::fprintf(stderr, "alloclab: --anchor-align %u is not a power of two\n", a);
    return kExitBadInput;
  }
  trace::Trace t = trace::read_trace(o.in);
  trace::ScopedTrace s = trace::infer_scopes(t, o.scope);
  trace::write_trace(s.trace, o.out);
  if (o.as_json) {
    std::cout << json{{"output", o.out}, {"scopes", trace::to_json(s.report)}}.dump(2) << '\n';
  } else {
    std::cout << trace::describe(s.report) << "wrote " << o.out << ": " << s.trace.scope_count << " scopes, "
              << s.trace.op_count() << " ops\n";
  }
  return kExitOk;
}

}  // namespace

void add_trace_capture_command(CLI::App& group, Context& ctx) {
  auto opt = std::make_shared<CaptureOptions>();
  auto* cmd = group.add_subcommand(
      "capture", "Run a program with its allocations recorded and write their trace: capture -o FILE -- CMD ARGS...");
  cmd->add_option("-o,--output", opt->out, "Trace file to write")->required()->type_name("FILE");
  cmd->add_option("--pid", opt->pid,
                  "Write the trace of this process (default: the one with the most events; the others are listed)");
  cmd->add_flag("--measure-overhead", opt->measure,
                "Run the command once untraced first and print both wall times and their ratio");
  cmd->add_option("command", opt->command, "The program and its arguments, after --")->type_name("CMD ARGS...");
  cmd->footer(
      "The program's stdin, stdout and stderr are alloclab's; alloclab reports on stderr and exits with the\n"
      "program's status (or dies of its signal). SIGTERM, SIGINT, SIGHUP, SIGQUIT sent to alloclab are passed\n"
      "on to the program; a kill -9 of alloclab kills it. Every process captured is listed with its events and\n"
      "how it ended, and a process whose last events could not be flushed is named in a warning.\n"
      "Exit status 2: no command, no -o, a program that cannot start; 1: capture failed.");
  cmd->callback([&ctx, opt] { ctx.action = [opt] { return run_capture(*opt); }; });
}

void add_trace_scopes_command(CLI::App& group, Context& ctx) {
  auto opt = std::make_shared<ScopesOptions>();
  auto* cmd =
      group.add_subcommand("scopes", "Infer request scopes for a captured trace, so region backends can replay it");
  cmd->add_option("trace", opt->in, "Trace file (binary or text)")->required()->type_name("IN");
  cmd->add_option("-o,--output", opt->out, "Trace file to write, with scopes")->required()->type_name("OUT");
  auto* size = cmd->add_option("--anchor-size", opt->scope.anchor_size,
                               "Size of the block that opens a scope, e.g. 4096 for nginx's request pool "
                               "(default: detected)")
                   ->check(CLI::Range(1u, trace::kMaxSize));
  cmd->add_option("--anchor-align", opt->scope.anchor_align, "Only anchors asking this alignment (default: any)")
      ->needs(size)
      ->check(CLI::Range(1u, 1u << trace::kMaxAlignLog2));
  cmd->add_flag("--json", opt->as_json, "Machine-readable report");
  cmd->footer(
      "An anchor block opens a scope at its allocation and closes it at its free; blocks of the same thread\n"
      "allocated and freed inside join it; anchors inside anchors become child scopes; the rest stays unscoped,\n"
      "counted by why.");
  cmd->callback([&ctx, opt] { ctx.action = [opt] { return run_scopes(*opt); }; });
}

}  // namespace alloclab::cli
