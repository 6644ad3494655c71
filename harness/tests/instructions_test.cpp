// alloclab run --count instructions: counts that repeat exactly, the keys a
// counted cell carries, the configuration it runs under, and its refusals
// (several threads, no valgrind). Reading Callgrind's totals and building
// its command are tested without valgrind.
//
// valgrind and the sanitizers do not mix (and sanitizer builds replace
// malloc in the workers), so the tests that run Callgrind skip there, and
// where valgrind is not installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness/run/callgrind.hpp"
#include "harness/run/run_plan.hpp"
#include "harness/tests/test_util.hpp"

namespace alloclab {
namespace {

using nlohmann::json;
using test::ScratchDir;
using test::read_json;
namespace fs = std::filesystem;
using Args = std::vector<std::string>;

bool have_valgrind() {
  const char* path = std::getenv("PATH");
  return run::find_valgrind(path ? path : "").has_value();
}

#ifdef ALLOCLAB_SANITIZED
#define SKIP_UNLESS_CALLGRIND() GTEST_SKIP() << "sanitizer build: valgrind cannot run it"
#else
#define SKIP_UNLESS_CALLGRIND()                    \
  do {                                            \
    if (!have_valgrind()) {                       \
      GTEST_SKIP() << "valgrind is not installed"; \
    }                                             \
  } while (0)
#endif

// A counted run of one small model: 40 requests, about 2,600 ops.
Args counted_run(const std::string& backends, const std::string& out, Args extra = {}) {
  Args a = {"run", "-q", "--count", "instructions", "--workloads", "http1-static", "--requests", "40",
            "--backends", backends, "-o", out};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::map<std::string, json> cells_by_id(const json& doc) {
  std::map<std::string, json> out;
  for (const auto& c : doc.value("cells", json::array())) out[c.value("id", "")] = c;
  return out;
}

using test::expect_bad_input;

TEST(Instructions, TwoRunsCountTheSameInstructionsPerOp) {
  SKIP_UNLESS_CALLGRIND();
  ScratchDir dir;
  const std::string backends = "null,glibc,bump@glibc,nginx@glibc";
  auto first = test::alloclab(counted_run(backends, dir / "a.json"));
  ASSERT_TRUE(first.ok()) << first.describe() << first.err;
  auto second = test::alloclab(counted_run(backends, dir / "b.json"));
  ASSERT_TRUE(second.ok()) << second.describe() << second.err;
  json a = read_json(dir / "a.json"), b = read_json(dir / "b.json");
  auto ca = cells_by_id(a), cb = cells_by_id(b);
  ASSERT_EQ(ca.size(), 4u);  // one thread, one repetition
  std::map<std::string, double> per_op;
  for (auto& [id, cell] : ca) {
    SCOPED_TRACE(id);
    ASSERT_EQ(cell["status"], "ok") << cell.dump();
    ASSERT_TRUE(cb.count(id));
    const json& r = cell["replay"];
    EXPECT_EQ(r["instructions"], cb[id]["replay"]["instructions"]);
    EXPECT_EQ(r["instructions_per_op"], cb[id]["replay"]["instructions_per_op"]);
    per_op[cell["backend"]] = r["instructions_per_op"].get<double>();
  }
  // Each backend's own code is counted: a bump pointer costs less than
  // glibc's malloc and free, and everything costs more than the null
  // backend (the replay loop alone).
  EXPECT_LT(per_op["bump@glibc"], per_op["glibc"]);
  for (const auto& [backend, v] : per_op) {
    if (backend != "null") {
      EXPECT_GT(v, per_op["null"]) << backend;
    }
  }
}

TEST(Instructions, ACountedCellCarriesCountsAndNoTimes) {
  SKIP_UNLESS_CALLGRIND();
  ScratchDir dir;
  auto o = test::alloclab(counted_run("null,glibc", dir / "r.json"));
  ASSERT_TRUE(o.ok()) << o.describe() << o.err;
  json doc = read_json(dir / "r.json");
  EXPECT_EQ(doc["config"]["count"], "instructions");
  EXPECT_EQ(doc["config"]["threads"], json::array({1}));
  EXPECT_EQ(doc["config"]["reps"], 1);
  EXPECT_EQ(doc["config"]["memory_limit_bytes"], 0);
  for (auto& [id, cell] : cells_by_id(doc)) {
    SCOPED_TRACE(id);
    ASSERT_EQ(cell["status"], "ok") << cell.dump();
    const json& r = cell["replay"];
    EXPECT_EQ(r["count"], "instructions");
    EXPECT_EQ(r["ops"], doc["workloads"]["http1-static/t1"]["ops"]);
    ASSERT_GT(r["instructions"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(r["instructions_per_op"].get<double>(),
                     r["instructions"].get<double>() / r["ops"].get<double>());
    // Only the replay's ops are counted: loading the trace and starting the
    // process alone execute millions of instructions, hundreds per op here.
    EXPECT_LT(r["instructions_per_op"].get<double>(), 1000);
    for (const char* k : {"wall_seconds", "busy_seconds", "ops_per_second", "allocator_seconds", "mean_ns",
                          "latency_ns", "request_ns", "clock", "memory", "fragmentation"})
      EXPECT_FALSE(r.contains(k)) << k;
    EXPECT_TRUE(r.contains("allocator")) << r.dump();
  }
  bool summarized = false;
  for (const auto& s : doc["summaries"])
    if (s["metrics"].contains("instructions_per_op")) summarized = s["metrics"]["instructions_per_op"]["n"] == 1;
  EXPECT_TRUE(summarized) << doc["summaries"].dump();
}

// The preload reaches the processes that start valgrind too: whichever
// crashes first, the cell is a crash and the run goes on.
TEST(Instructions, ACrashingAllocatorIsAFailedCell) {
  SKIP_UNLESS_CALLGRIND();
  ScratchDir dir;
  auto o = test::alloclab(counted_run(std::string("glibc,preload:") + FIXTURE_CRASHING, dir / "r.json"));
  EXPECT_EQ(o.status, WorkerOutcome::Status::exited) << o.describe();
  EXPECT_EQ(o.exit_code, 3) << o.err;
  json doc = read_json(dir / "r.json");
  EXPECT_EQ(doc["cells_ok"], 1);
  ASSERT_EQ(doc["failures"].size(), 1u) << doc["failures"].dump();
  EXPECT_EQ(doc["failures"][0]["failure"]["kind"], "crashed");
}

TEST(Instructions, SeveralThreadsAreRefused) {
  ScratchDir dir;
  expect_bad_input(test::alloclab(counted_run("null", dir / "r.json", {"--threads", "2"})),
                   "--count instructions replays one thread: --threads 2");
  expect_bad_input(test::alloclab(counted_run("null", dir / "r.json", {"--threads", "1,2"})), "--threads 2");
  expect_bad_input(test::alloclab(counted_run("null", dir / "r.json", {"--memory-limit", "8G"})),
                   "without a memory limit");
  EXPECT_FALSE(fs::exists(dir / "r.json"));
}

TEST(Instructions, WithoutValgrindTheRunIsBadInput) {
  ScratchDir dir;
  // PATH is where the run looks for valgrind; an empty directory has none.
  std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", dir.path().c_str(), 1);
  auto o = test::alloclab(counted_run("null", dir / "r.json"));
  ::setenv("PATH", saved.c_str(), 1);
  expect_bad_input(o, "--count instructions needs valgrind (apt-get install valgrind)");
  EXPECT_FALSE(fs::exists(dir / "r.json"));
}

// Natively the switches do nothing: the untimed replay runs every op of the
// trace (and runs in sanitizer builds, which check it).
TEST(Instructions, TheUntimedReplayRunsEveryOpNatively) {
  ScratchDir dir;
  std::string trace = dir / "h.trace";
  auto gen = test::alloclab({"trace", "gen", "http1-static", "--requests", "40", "--threads", "1", "-o", trace});
  ASSERT_TRUE(gen.ok()) << gen.err;
  auto info = test::alloclab({"trace", "info", trace, "--json"});
  ASSERT_TRUE(info.ok()) << info.err;
  json trace_info = json::parse(info.out);
  auto o = test::worker({"--spec", "null", "--task", "replay", "--trace", trace, "--count", "instructions"}, "");
  ASSERT_TRUE(o.ok()) << o.describe() << o.err;
  json r = json::parse(o.out)["replay"];
  EXPECT_EQ(r["count"], "instructions");
  EXPECT_EQ(r["ops"], trace_info["ops"]);
  EXPECT_EQ(r["failed_allocations"], 0);
  EXPECT_EQ(r["ops_by_class"]["alloc"], r["ops_by_class"]["free"]) << r.dump();
  EXPECT_FALSE(r.contains("wall_seconds"));
  EXPECT_FALSE(r.contains("instructions")) << "the runner adds Callgrind's count";

  std::string two = dir / "two.trace";
  ASSERT_TRUE(test::alloclab({"trace", "gen", "proxy", "--requests", "20", "--threads", "2", "-o", two}).ok());
  auto refused = test::worker({"--spec", "null", "--task", "replay", "--trace", two, "--count", "instructions"}, "");
  EXPECT_EQ(refused.status, WorkerOutcome::Status::exited);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
}

// --count wall: the replay with no timer read inside it, on any number of
// threads; its only times are the threads' wall time.
TEST(Instructions, TheWallCountReplaysEveryOpAndReportsOnlyWallTime) {
  ScratchDir dir;
  std::string trace = dir / "p.trace";
  ASSERT_TRUE(test::alloclab({"trace", "gen", "proxy", "--requests", "40", "--threads", "2", "-o", trace}).ok());
  std::vector<const char*> specs = {"null"};
#ifndef ALLOCLAB_SANITIZED
  specs.push_back("glibc");  // a sanitizer build's workers have the sanitizer's malloc (test_util.hpp)
#endif
  for (const char* spec : specs) {
    auto timed = test::worker({"--spec", spec, "--task", "replay", "--trace", trace}, "");
    ASSERT_TRUE(timed.ok()) << spec << ": " << timed.describe() << timed.err;
    auto o = test::worker({"--spec", spec, "--task", "replay", "--trace", trace, "--count", "wall"}, "");
    ASSERT_TRUE(o.ok()) << spec << ": " << o.describe() << o.err;
    json r = json::parse(o.out)["replay"];
    EXPECT_EQ(r["status"], "ok") << spec;
    EXPECT_EQ(r["count"], "wall");
    EXPECT_GT(r["ops"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(r["ops"], json::parse(timed.out)["replay"]["ops"]) << spec << ": the timed replay's ops";
    EXPECT_EQ(r["failed_allocations"], 0);
    ASSERT_EQ(r["per_thread"].size(), 2u);
    double longest = 0;
    for (const json& th : r["per_thread"]) longest = std::max(longest, th["busy_seconds"].get<double>());
    EXPECT_GT(longest, 0.0);
    EXPECT_DOUBLE_EQ(r["busy_seconds"].get<double>(), longest) << "the longest thread's";
    EXPECT_FALSE(r.contains("latency_ns")) << "nothing per op is timed";
    EXPECT_FALSE(r.contains("allocator_seconds"));
  }
  auto bad = test::worker({"--spec", "null", "--task", "replay", "--trace", trace, "--count", "cycles"}, "");
  EXPECT_EQ(bad.status, WorkerOutcome::Status::exited);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--count must be time, instructions or wall"), std::string::npos) << bad.err;
#ifndef ALLOCLAB_SANITIZED
  // A strategy is refused (worker/wall_replay.hpp: its loops stay as they were).
  auto strategy = test::worker({"--spec", "nginx", "--task", "replay", "--trace", trace, "--count", "wall"}, "");
  EXPECT_EQ(strategy.status, WorkerOutcome::Status::exited);
  EXPECT_EQ(strategy.exit_code, 2);
  EXPECT_NE(strategy.err.find("--count wall replays null and the general allocators"), std::string::npos)
      << strategy.err;
#endif
}

TEST(Instructions, CountingDefaultsToOneThreadOneRepetition) {
  auto counted = test::alloclab({"run", "--dry-run", "--count", "instructions", "--backends", "null"});
  ASSERT_TRUE(counted.ok()) << counted.err;
  auto timed = test::alloclab({"run", "--dry-run", "--backends", "null"});
  ASSERT_TRUE(timed.ok()) << timed.err;
  // The dry run prints the configuration, then a line of cell counts.
  auto config = [](const std::string& out) { return json::parse(out.substr(0, out.rfind("}\n") + 1)); };
  json c = config(counted.out), t = config(timed.out);
  EXPECT_EQ(c["count"], "instructions");
  EXPECT_EQ(c["threads"], json::array({1}));
  EXPECT_EQ(c["reps"], 1);
  EXPECT_EQ(c["memory_limit_bytes"], 0);
  EXPECT_EQ(t["count"], "time");
  EXPECT_EQ(t["threads"], json::array({1, 2}));
  EXPECT_EQ(t["reps"], 5);
}

TEST(Instructions, ConfigurationsFromBeforeCountCountedTime) {
  run::RunConfig c;
  c.suite = "custom";
  c.backends = {"null"};
  c.threads = {1};
  c.count = "instructions";
  json j = c.to_json();
  EXPECT_EQ(j["count"], "instructions");
  EXPECT_EQ(run::RunConfig::from_json(j).count, "instructions");
  j.erase("count");
  EXPECT_EQ(run::RunConfig::from_json(j).count, "time");
  j["count"] = "cycles";
  EXPECT_ANY_THROW(run::RunConfig::from_json(j));
  EXPECT_EQ(c.problem(), "");
  c.threads = {1, 2};
  EXPECT_NE(c.problem(), "");
}

TEST(Callgrind, ReadsTheIrTotal) {
  EXPECT_EQ(run::callgrind_instructions("version: 1\nevents: Ir\nsummary: 123\ntotals: 123\n"), 123u);
  // Ir need not be the first event; totals win over summary.
  EXPECT_EQ(run::callgrind_instructions("events: Dr Ir Dw\nsummary: 1 2 3\ntotals: 4 5 6\n"), 5u);
  EXPECT_EQ(run::callgrind_instructions("events: Ir\nsummary: 77\n"), 77u);
  EXPECT_EQ(run::callgrind_instructions(""), std::nullopt);
  EXPECT_EQ(run::callgrind_instructions("events: Dr\ntotals: 5\n"), std::nullopt);
  EXPECT_EQ(run::callgrind_instructions("events: Ir\ntotals: x\n"), std::nullopt);
}

TEST(Callgrind, KeepsTheUsersMallocConfAndDecidesLast) {
  auto env = run::deterministic_env("narenas:2,dirty_decay_ms:5");
  ASSERT_FALSE(env.empty());
  // jemalloc applies options left to right: the decay settings come last.
  EXPECT_EQ(env[0], "MALLOC_CONF=narenas:2,dirty_decay_ms:5,dirty_decay_ms:-1,muzzy_decay_ms:-1");
  EXPECT_EQ(run::deterministic_env(nullptr)[0], "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1");
  EXPECT_NE(std::find(env.begin(), env.end(), "MIMALLOC_ALLOW_DECOMMIT=0"), env.end());
}

TEST(Callgrind, FindsValgrindOnThePathList) {
  ScratchDir dir;
  std::string exe = dir / "valgrind";
  std::ofstream(exe) << "#!/bin/sh\n";
  fs::permissions(exe, fs::perms::owner_all);
  EXPECT_EQ(run::find_valgrind("/nonexistent:" + dir.path()), exe);
  EXPECT_EQ(run::find_valgrind("/nonexistent"), std::nullopt);
  EXPECT_EQ(run::find_valgrind(""), std::nullopt);
}

}  // namespace
}  // namespace alloclab
