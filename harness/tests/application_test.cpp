// What the allocator does to the application, end to end through alloclab
// run: the access figures beside the allocator's (fill after allocation,
// read before free), the aged heap (age=MIB), the idle-release curve
// (idle=SECONDS), pool's FIFO control, and AnonHugePages at the peak.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/tests/test_util.hpp"

namespace alloclab {
namespace {

using nlohmann::json;
using test::ScratchDir;
using test::read_json;
using Args = std::vector<std::string>;

json run(const Args& extra, const std::string& out) {
  Args args = {"run", "-q", "--threads", "1", "-o", out};
  args.insert(args.end(), extra.begin(), extra.end());
  auto o = test::alloclab(args);
  EXPECT_TRUE(o.ok()) << o.describe();
  return o.ok() ? read_json(out) : json::object();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Every block the trace allocates is filled once, every block it frees is
// read at most once; both are timed (a sum of net intervals, so it can be slightly
// off zero either way, but not by much when thousands of blocks are
// touched).
TEST(Access, EveryAllocatedBlockIsFilledAndEveryFreedOneReadAndBothAreTimed) {
  ScratchDir dir;
  json doc = run({"--workloads", "http-api", "--requests", "200", "--backends", "null", "--reps", "1"}, dir / "r.json");
  ASSERT_FALSE(doc["cells"].empty());
  for (const auto& c : doc["cells"]) {
    ASSERT_EQ(c["status"], "ok") << c.dump();
    const json& r = c["replay"];
    const json& a = r["access"];
    ASSERT_TRUE(a.is_object()) << r.dump();
    const json& w = doc["workloads"]["http-api/t1"];
    // Every allocation and realloc (none fails on null) is filled once,
    // except a block freed in the same chain of batches as it was made
    // (harness/replay/replay.hpp, "Access"): under 3% here.
    const double allocs = w["allocs"].get<double>(), reallocs = r["ops_by_class"]["realloc"].get<double>();
    EXPECT_LE(a["fill_blocks"].get<double>(), allocs + reallocs);
    EXPECT_GE(a["fill_blocks"].get<double>(), 0.97 * allocs);
    EXPECT_EQ(a["requests"].get<std::uint64_t>(), w["requests"].get<std::uint64_t>());
    // Blocks still live at the end, and blocks a region frees without a free
    // op, are never read before a free.
    EXPECT_GT(a["read_blocks"].get<std::uint64_t>(), 0u);
    EXPECT_LE(a["read_blocks"].get<std::uint64_t>(), a["fill_blocks"].get<std::uint64_t>());
    EXPECT_GT(a["fill_seconds"].get<double>(), 0);
    EXPECT_GT(a["read_seconds"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(a["seconds"].get<double>(), a["fill_seconds"].get<double>() + a["read_seconds"].get<double>());
    // One chain in 8 is timed: about an eighth of the blocks.
    EXPECT_EQ(a["timed_one_in"], 8);
    for (const char* k : {"fill", "read"}) {
      double share = a[std::string(k) + "_timed_blocks"].get<double>() / a[std::string(k) + "_blocks"].get<double>();
      EXPECT_GT(share, 1.0 / 12) << k;
      EXPECT_LT(share, 1.0 / 5) << k;
    }
    EXPECT_LT(a["seconds"].get<double>(), r["wall_seconds"].get<double>());
  }
}

TEST(Access, TouchNoneAccessesNothingAndRecordsNoAccess) {
  ScratchDir dir;
  json doc = run({"--workloads", "http-api", "--requests", "50", "--backends", "null", "--reps", "1", "--touch", "none"},
                 dir / "r.json");
  for (const auto& c : doc["cells"]) EXPECT_FALSE(c["replay"].contains("access")) << c["replay"].dump();
}

// The measurement can tell where live objects are: read before free costs
// more per block when a request's blocks have long left the L2 cache (4,096
// requests of 64 blocks of 256 B open at once: 64 MiB) than when each
// request's 16 KiB is read right after it was written. Medians of three
// repetitions; the contrast measured here is about 3x.
TEST(Access, ReadingObjectsThatLeftTheCacheCostsMoreThanReadingOnesThatFit) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  json doc = run({"--workloads", "scope-sweep:n=64,size=256,scope-sweep:n=64,size=256,open=4096", "--requests", "8192",
                  "--backends", "glibc", "--reps", "3"},
                 dir / "r.json");
  std::map<std::string, std::vector<double>> per_block;
  for (const auto& c : doc["cells"]) {
    ASSERT_EQ(c["status"], "ok") << c.dump();
    const json& a = c["replay"]["access"];
    per_block[c["workload"]].push_back(a["read_seconds"].get<double>() / a["read_blocks"].get<double>() * 1e9);
  }
  double fits = median(per_block["scope-sweep:n=64,size=256"]);
  double spills = median(per_block["scope-sweep:n=64,size=256,open=4096"]);
  EXPECT_GT(spills, 1.3 * fits) << "read ns per block: in cache " << fits << ", out of it " << spills;
}

// age=MIB: the churn ran (about that many bytes live, four times as many
// allocated), one block in 16 stayed live through the replay, and the
// results record it; the aged worker starts the replay holding more.
TEST(Age, AnAgedCellRecordsItsChurnAndStartsFromABiggerHeap) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  json doc = run({"--workloads", "http-api,http-api:age=32", "--requests", "50", "--backends", "glibc", "--reps", "1"},
                 dir / "r.json");
  std::map<std::string, json> by;
  for (const auto& c : doc["cells"]) {
    ASSERT_EQ(c["status"], "ok") << c.dump();
    by[c["workload"]] = c["replay"];
  }
  ASSERT_EQ(by.size(), 2u);
  EXPECT_FALSE(by["http-api"].contains("age"));
  const json& age = by["http-api:age=32"]["age"];
  ASSERT_TRUE(age.is_object()) << by["http-api:age=32"].dump();
  EXPECT_EQ(age["requested_bytes"].get<std::uint64_t>(), 32u << 20);
  EXPECT_NEAR(age["bytes"].get<double>(), 32 << 20, 8 << 20);
  EXPECT_GE(age["allocated_bytes"].get<double>(), 4.0 * (32 << 20));
  EXPECT_NEAR(age["retained_bytes"].get<double>() / age["bytes"].get<double>(), 1.0 / 16, 0.03);
  EXPECT_GT(by["http-api:age=32"]["memory"]["baseline_rss_bytes"].get<double>(),
            by["http-api"]["memory"]["baseline_rss_bytes"].get<double>() + age["retained_bytes"].get<double>() / 2)
      << "the retained blocks are resident before the replay starts";
  // The configuration says which workload is aged, and that the trace is the same.
  for (const auto& w : doc["config"]["workloads"])
    if (w["name"] == "http-api:age=32") {
      EXPECT_EQ(w["age_bytes"].get<std::uint64_t>(), 32u << 20);
      EXPECT_EQ(w["model"], "http-api");
      EXPECT_FALSE(w.contains("params")) << "age is the replay's option, not the model's";
    }
}

TEST(Idle, AnIdleCellSamplesRssAfterTheReplayAtItsInterval) {
  ScratchDir dir;
  json doc = run({"--workloads", "http-api:idle=0.3", "--requests", "50", "--backends", "null", "--reps", "1"},
                 dir / "r.json");
  for (const auto& c : doc["cells"]) {
    ASSERT_EQ(c["status"], "ok") << c.dump();
    const json& idle = c["replay"]["memory"]["idle"];
    ASSERT_TRUE(idle.is_object()) << c["replay"]["memory"].dump();
    EXPECT_DOUBLE_EQ(idle["interval_seconds"].get<double>(), 0.1);
    ASSERT_EQ(idle["rss_bytes"].size(), 4u) << "at 0, 0.1, 0.2 and 0.3 s";
    for (const auto& v : idle["rss_bytes"]) EXPECT_GT(v.get<double>(), 0);
    EXPECT_GE(c["worker_seconds"].get<double>(), 0.3);
  }
}

TEST(ReplayOptions, BadAgeOrIdleValuesAreExitTwoWithOneLine) {
  ScratchDir dir;
  for (const char* w : {"http-api:age=0", "http-api:age=5000", "http-api:age=x", "http-api:idle=0", "http-api:idle=61",
                        "http-api:idle=1s"}) {
    auto o = test::alloclab({"run", "-q", "--workloads", w, "--backends", "null", "-o", dir / "r.json"});
    EXPECT_EQ(o.exit_code, 2) << w << ": " << o.describe();
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_NE(o.err.find(std::string(w).substr(std::string(w).find(':') + 1, 3)), std::string::npos) << o.err;
  }
  // age is the replay's: trace gen, which makes only the trace, refuses it.
  auto o = test::alloclab({"trace", "gen", "http-api:age=4", "-o", dir / "t.trace"});
  EXPECT_EQ(o.exit_code, 2) << o.describe();
}

// The claim experiment's control: pool's FIFO order runs in a suite as a
// backend of its own, and a FIFO pool replays a trace as the LIFO one does.
TEST(PoolOrder, FifoPoolReplaysEveryModelLikeTheLifoOne) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  json doc = run({"--workloads", "http-api,long-running", "--requests", "100", "--backends",
                  "pool@glibc,pool:order=fifo@glibc", "--reps", "1"},
                 dir / "r.json");
  std::map<std::string, std::map<std::string, json>> by;
  for (const auto& c : doc["cells"]) {
    ASSERT_EQ(c["status"], "ok") << c.dump();
    by[c["workload"]][c["backend"]] = c["replay"];
  }
  for (auto& [w, b] : by) {
    ASSERT_EQ(b.size(), 2u) << w;
    EXPECT_EQ(b["pool@glibc"]["ops"], b["pool:order=fifo@glibc"]["ops"]) << w;
    EXPECT_EQ(b["pool@glibc"]["failed_allocations"], 0) << w;
    EXPECT_EQ(b["pool:order=fifo@glibc"]["failed_allocations"], 0) << w;
    // Same requests, same sizes, the same chunks taken: only the order differs.
    EXPECT_EQ(b["pool@glibc"]["backend_stats"]["reserved_bytes"], b["pool:order=fifo@glibc"]["backend_stats"]["reserved_bytes"]) << w;
  }
}

// The default suite runs the experiment-only backend on its experiment only:
// config.experiment_backends names it, and the grid's workloads (which name
// no backends) leave it out.
TEST(PoolOrder, TheDefaultSuiteRunsFifoOnlyInItsClaimExperiment) {
  SKIP_IF_SANITIZED();  // the dry run probes every backend's worker
  auto o = test::alloclab({"run", "--dry-run"});
  ASSERT_TRUE(o.ok()) << o.describe();
  json config = json::parse(o.out.substr(0, o.out.rfind('}') + 1));
  const json& backends = config["backends"];
  ASSERT_NE(std::find(backends.begin(), backends.end(), "pool:order=fifo@glibc"), backends.end()) << backends.dump();
  const json& extra = config["experiment_backends"];
  ASSERT_NE(std::find(extra.begin(), extra.end(), "pool:order=fifo@glibc"), extra.end()) << extra.dump();
  ASSERT_NE(std::find(extra.begin(), extra.end(), "jemalloc[background_thread=true,dirty_decay_ms=1000]"), extra.end()) << extra.dump();
  int with_fifo = 0;
  for (const auto& w : config["workloads"]) {
    if (!w.contains("backends")) continue;
    bool fifo = std::find(w["backends"].begin(), w["backends"].end(), "pool:order=fifo@glibc") != w["backends"].end();
    with_fifo += fifo;
    if (fifo) EXPECT_EQ(w["name"], "long-running:scale=16,connections=8192");
  }
  EXPECT_EQ(with_fifo, 1);
  // The grid: every backend but the experiment-only one; then each
  // experiment's own backends.
  std::size_t cells = 0;
  const std::size_t reps = config["reps"], grid_backends = backends.size() - extra.size();
  for (const auto& w : config["workloads"]) {
    if (!w.contains("backends")) cells += grid_backends * config["threads"].size() * reps;
    else cells += w["backends"].size() * w["threads"].size() * (w.contains("reps") ? w["reps"].get<std::size_t>() : reps);
  }
  EXPECT_NE(o.out.find("\n" + std::to_string(cells) + " cells"), std::string::npos) << o.out.substr(o.out.rfind('}'));
}

// AnonHugePages is read at the highest RSS the timeline saw.
TEST(Hugepages, EachCellRecordsAnonHugePagesAtItsPeakRss) {
  ScratchDir dir;
  json doc = run({"--workloads", "http-api", "--requests", "100", "--backends", "null", "--reps", "1"}, dir / "r.json");
  for (const auto& c : doc["cells"]) {
    const json& os = c["replay"]["os"];
    ASSERT_TRUE(os["anon_huge_bytes_peak"].is_number_unsigned()) << os.dump();
    EXPECT_GT(os["rss_at_anon_huge_peak_bytes"].get<double>(), 0);
    EXPECT_LE(os["anon_huge_bytes_peak"].get<double>(), os["rss_at_anon_huge_peak_bytes"].get<double>());
  }
}

}  // namespace
}  // namespace alloclab
