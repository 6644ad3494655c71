// Helpers for tests that run the alloclab command line.
#pragma once

#include <string>
#include <vector>

#include "harness/worker_process.hpp"

namespace alloclab::test {

// Runs build/alloclab with args; preload as in WorkerRequest.
inline WorkerOutcome alloclab(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(120)) {
  WorkerRequest req;
  req.argv = {ALLOCLAB_BIN};
  req.argv.insert(req.argv.end(), args.begin(), args.end());
  req.timeout = timeout;
  return run_worker(req);
}

// Runs alloclab-worker directly with an explicit LD_PRELOAD.
inline WorkerOutcome worker(std::vector<std::string> args, std::string preload,
                            std::chrono::seconds timeout = std::chrono::seconds(60)) {
  WorkerRequest req;
  req.argv = {ALLOCLAB_WORKER_BIN};
  req.argv.insert(req.argv.end(), args.begin(), args.end());
  req.preload = std::move(preload);
  req.timeout = timeout;
  return run_worker(req);
}

}  // namespace alloclab::test
