// `alloclab serve`: real servers under each general allocator, driven over
// loopback by wrk (peak throughput) and the fixed-rate generator (latency
// with queueing delay), measured from /proc.
#pragma once

#include <nlohmann/json.hpp>

#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include "allocators/general/library.hpp"
#include "harness/serve/servers.hpp"

namespace alloclab::serve {

// A server as named on the command line: a kind, and for Node.js the
// memory it holds for its lifetime ("node:retain=1000", MiB), which gives
// V8's collector a heap of that size to trace. A node server that retains
// memory runs under the first allocator only: the sweep is about the
// collector, not malloc.
struct ServerSpec {
  const ServerKind* kind = nullptr;
  std::string label;
  int retain_mib = 0;
};

// Parses "nginx" or "node:retain=N"; throws std::invalid_argument with a
// one-line message.
ServerSpec parse_server_spec(const std::string& text);

struct SuiteOptions {
  std::vector<ServerSpec> servers;
  std::vector<Library> allocators;  // the first is the baseline of comparisons
  int reps = 3;
  int warmup_s = 1;  // whole seconds: wrk's -d takes no fraction
  int peak_s = 2;
  double fixed_s = 2;
  double rate = 0;                // fixed offered rate; 0: rate_fraction of the server's first peak
  double rate_fraction = 0.5;
  int connections = 32;
  std::size_t body_bytes = 18432;
  std::vector<int> server_cpus;
  std::vector<int> load_cpus;
  double sample_interval_s = 0.25;
  double start_timeout_s = 20;
  bool quiet = false;
  // Capture each server's allocations under the same load and replay them
  // under every allocator (predict_reps repetitions), beside the server.
  bool predict = false;
  int predict_reps = 3;
};

// Set by the command's signal handler; the suite stops at the next step.
extern volatile std::sig_atomic_t g_stop_signal;

// Installs SIGINT/SIGTERM/SIGHUP handlers that kill every process group the
// suite has running (servers, upstream, wrk) and set g_stop_signal.
void install_stop_handlers();

// Removes the prefixes of suites that died without tidying up
// ($TMPDIR/alloclab-serve-PID-*, PID dead), killing what still runs there.
void remove_stale_prefixes();

// wrk, or MissingProgram naming its package.
std::string wrk_binary();

// Runs every cell; `failed` counts failed cells. The document is the serve
// results (results/SCHEMA.md, "Server results"); `checkpoint` gets it after
// every cell ("complete": false until the last), so a stopped suite loses
// no finished cell. With `previous` (a checked document of the same
// configuration and machine, else run::ResultsError) its cells and
// predictions are kept and only the missing ones run.
nlohmann::json run_suite(const SuiteOptions& options, int& failed,
                         const std::function<void(const nlohmann::json&)>& checkpoint,
                         const nlohmann::json* previous = nullptr);

// The comparisons against the baseline allocator and the text summary, from
// a document's cells (also used when re-reading a file).
nlohmann::json compare_cells(const nlohmann::json& cells, const std::vector<std::string>& allocators);
std::string summary_table(const nlohmann::json& document);

}  // namespace alloclab::serve
