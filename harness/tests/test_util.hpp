// Helpers for tests that run the alloclab command line.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
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

// A fresh directory per test (under gtest's temp dir, named after `prefix`),
// removed with everything in it.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "alloclab-test") {
    std::string tmpl = testing::TempDir() + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The whole file as JSON; a test failure (and an empty object) if it is not
// one complete document.
inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(ss.str(), nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << path << " is not a complete JSON document";
  return doc.is_discarded() ? nlohmann::json::object() : doc;
}

}  // namespace alloclab::test
