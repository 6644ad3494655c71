// `alloclab run`: expands a configuration into cells, runs each in a fresh
// worker process with its allocator preloaded, and writes the results file
// after every cell. A worker that crashes, hangs or runs out of memory is a
// recorded outcome of its cell; the run goes on.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "harness/run/run_plan.hpp"
#include "harness/worker_process.hpp"

namespace alloclab::run {

struct RunOptions {
  RunConfig config;
  std::string output = "results.json";
  bool resume = false;  // continue `output`, skipping its finished cells
  bool force = false;   // overwrite an existing `output`
  bool quiet = false;   // no progress output
  std::uint32_t shard_index = 1, shard_count = 1;
};

// Thrown for bad input found before any cell runs (exit status 2).
class RunError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs the cells not yet in `output`. Returns the exit status: 0 every
// cell ok (or unsupported by its backend), 3 some cells failed, 130 when
// interrupted by SIGINT or SIGTERM (the finished cells are kept).
int execute_run(const RunOptions& options);

// The JSON record of one cell from how its worker ended.
nlohmann::json cell_record(const Cell& cell, const WorkerOutcome& outcome);

}  // namespace alloclab::run
