// Checking a backend spec before any cell runs, so that bad input is a
// one-line error (exit status 2) and not a column of failed cells.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "allocators/spec.hpp"
#include "harness/worker_process.hpp"

namespace alloclab {

// The request that starts a worker for spec with the given task arguments
// (after --spec): LD_PRELOAD set to the spec's library, the spec's settings
// in the variables its library reads, and none of the allocator variables
// alloclab inherited (is_allocator_variable): a worker's allocator runs
// with exactly the configuration its spec names.
WorkerRequest worker_request(const BackendSpec& spec, std::vector<std::string> task_args);

// What a worker said about the allocator answering malloc.
struct ProbeResult {
  WorkerOutcome outcome;
  nlohmann::json doc;  // the worker's JSON, or null when it printed none
  bool ok() const { return outcome.ok(); }
  // Why it failed, one line.
  std::string reason() const;
};

ProbeResult probe_backend(const BackendSpec& spec,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Throws SpecError when the spec cannot run: a preload path that does not
// exist or is not a malloc library, options the strategy does not know,
// settings that did not take effect in a worker (a value the library
// reports differently, an option the loaded version does not have). A
// preload library and a spec with settings are probed in a worker, given at
// most `timeout`; a probe that crashes or hangs passes (its cells record it).
void check_backend(const BackendSpec& spec, std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace alloclab
