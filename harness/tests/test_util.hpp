// Helpers for tests that run the alloclab command line.
#pragma once

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "harness/worker_process.hpp"

extern char** environ;

// Sanitizer builds replace malloc in the workers: a test that needs a real
// allocator (or a strategy over one) in a worker skips there.
#ifdef ALLOCLAB_SANITIZED
#define SKIP_IF_SANITIZED() GTEST_SKIP() << "sanitizer build: workers' malloc is the sanitizer's"
#else
#define SKIP_IF_SANITIZED() (void)0
#endif

namespace alloclab::test {

// Runs build/alloclab with env (NAME=value) added to its environment.
inline WorkerOutcome alloclab_with_env(std::vector<std::string> args, std::vector<std::string> env,
                                       std::chrono::seconds timeout = std::chrono::seconds(120)) {
  WorkerRequest req;
  req.argv = {ALLOCLAB_BIN};
  req.argv.insert(req.argv.end(), args.begin(), args.end());
  req.env = std::move(env);
  req.timeout = timeout;
  return run_worker(req);
}

// Runs build/alloclab with args.
inline WorkerOutcome alloclab(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(120)) {
  return alloclab_with_env(std::move(args), {}, timeout);
}

// Bad input, as every command reports it: exit 2 and one line on stderr,
// "alloclab: ...", naming `needle`.
inline void expect_bad_input(const WorkerOutcome& o, const std::string& needle) {
  EXPECT_EQ(o.status, WorkerOutcome::Status::exited) << o.describe();
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.err.rfind("alloclab: ", 0), 0u) << o.err;
  EXPECT_NE(o.err.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << o.err;
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

// Starts alloclab with args in the background, its output discarded, its
// temporary files under tmpdir (TMPDIR) and `env` (NAME=value) added.
inline pid_t spawn_alloclab(const std::vector<std::string>& args, const std::string& tmpdir,
                            std::vector<std::string> env = {}) {
  std::vector<std::string> store = {ALLOCLAB_BIN};
  store.insert(store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("TMPDIR=", 0) != 0) env.emplace_back(*e);
  env.push_back("TMPDIR=" + tmpdir);
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
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
