// What a run measures: the configuration (backends x workloads x thread
// counts x repetitions), the named suites, and the cells it expands into.
//
// Cells are interleaved and their order shuffled by the seed, so a slow
// drift of the machine (a neighbour, thermal state) spreads over every
// backend instead of landing on one. --shard K/N keeps every N-th cell of
// that order, so N shards together hold exactly the whole run.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace alloclab::run {

// A workload: a model generated for each thread count, or a trace file
// (whose thread count is its own).
struct WorkloadSpec {
  std::string name;      // "http-api", "scope-sweep:n=64", or "trace:FILE-STEM" for a file
  std::string model;     // set for a model
  std::string path;      // set for a file (absolute)
  std::uint32_t requests = 0;       // a model's request count; 0 for its default
  std::uint32_t file_threads = 0;   // a file's thread count (read from it)
  std::map<std::string, std::string> params;  // a model's options (scale=8, n=64): the name's KEY=VALUE list
  // A claim experiment runs only the backends and thread counts it needs:
  // empty means every backend and thread count of the run.
  std::vector<std::string> backends;
  std::vector<std::uint32_t> threads;
  std::uint32_t reps = 0;  // at most this many repetitions (a long experiment); 0: the run's
  // Options of the replay, not of the trace (the name's age= and idle=):
  // an aged heap of this many bytes first, RSS sampled this long while idle
  // after (harness/replay/replay_cell.hpp).
  std::uint64_t age_bytes = 0;
  double idle_seconds = 0;
  bool is_file() const { return !path.empty(); }
  bool runs(const std::string& backend) const;
  bool runs(std::uint32_t thread_count) const;
};

struct RunConfig {
  std::string suite;                  // the suite it started from ("custom" if none)
  std::vector<std::string> backends;  // canonical specs, or "null"
  std::vector<WorkloadSpec> workloads;
  std::vector<std::uint32_t> threads;  // for model workloads
  std::uint32_t reps = 5;
  std::uint64_t seed = 1;
  std::string touch = "pages";
  std::uint32_t sample_one_in = 16;
  double timeout_seconds = 120;
  std::uint64_t memory_limit_bytes = 0;  // RLIMIT_AS per worker; 0 for none
  // What a cell measures: "time" (the timed replay, natively) or
  // "instructions" (the untimed replay counted by Callgrind: one thread, no
  // memory limit; harness/run/callgrind.hpp).
  std::string count = "time";
  // How a thread sweep splits work: "weak" (a model's trace for T threads
  // has T times the requests and connections of its 1-thread trace: every
  // thread the same work, so throughput should grow with T) or "strong"
  // (the same requests split over T threads). A file written before this
  // key existed ran strong.
  std::string scaling = "weak";
  // Backends that run only on the workloads that name them (a claim
  // experiment's control, such as pool:order=fifo@glibc), not on those that
  // run every backend.
  std::vector<std::string> experiment_backends;
  // Each replay thread bound to a CPU of its own (the worker's usable CPUs in
  // order; threads beyond them share round-robin).
  bool pin = false;

  bool counts_instructions() const { return count == "instructions"; }
  bool weak_scaling() const { return scaling == "weak"; }
  // Why the configuration cannot run (one line), or "" when it can.
  std::string problem() const;

  nlohmann::json to_json() const;
  // Throws std::exception on a malformed one. A file written before `count`
  // existed has none: it counted time.
  static RunConfig from_json(const nlohmann::json& j);
};

// A workload a suite runs for a claim that needs it (harness/report/claims.json):
// a model spec, and the backends and thread counts it runs with.
struct Experiment {
  const char* workload;                 // MODEL[:KEY=VALUE,...]
  std::vector<std::string> backends;    // canonical specs
  std::vector<std::uint32_t> threads;
  std::uint32_t reps = 0;               // at most this many repetitions; 0: the suite's
};

struct Suite {
  const char* name;
  const char* description;
  std::uint32_t reps;
  std::vector<std::uint32_t> threads;
  std::uint32_t request_divisor;  // models run with default_requests / this
  std::vector<Experiment> experiments = {};  // added when the run names no workloads of its own
};

const std::vector<Suite>& suites();
const Suite* find_suite(const std::string& name);
std::string suite_names();

// The backends a suite runs by default: the null backend (the harness's own
// cost), every general allocator, and every strategy over glibc.
std::vector<std::string> default_backends();

struct Cell {
  std::string backend;   // as in RunConfig::backends
  std::string workload;  // WorkloadSpec::name
  std::uint32_t threads = 1;
  std::uint32_t rep = 0;   // 0-based
  std::uint32_t order = 0; // position in the shuffled whole run

  // "BACKEND|WORKLOAD|tTHREADS|rREP": unique within a run.
  std::string id() const;
};

// Every cell of the run, in its shuffled order.
std::vector<Cell> plan_cells(const RunConfig& config);

// Cells k (1-based) of n: every n-th cell of the shuffled order.
std::vector<Cell> shard_cells(const std::vector<Cell>& all, std::uint32_t k, std::uint32_t n);

}  // namespace alloclab::run
