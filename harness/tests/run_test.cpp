// alloclab run, merge and export end to end: the results file a run writes,
// how it survives crashing and hanging backends and a kill -9, shards joined
// by merge, and the files export hands to other tools.
//
// Every run is small (one model, 40 requests: a cell takes tens of
// milliseconds) so the file stays fast under the sanitizers too. Sanitizer
// builds replace malloc in the workers, so tests that need a real allocator
// are skipped there and the others use only the null backend.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "harness/tests/test_util.hpp"

extern char** environ;

namespace alloclab {
namespace {

using nlohmann::json;
using test::ScratchDir;
using test::read_json;
namespace fs = std::filesystem;
using Args = std::vector<std::string>;

#ifdef ALLOCLAB_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// The backends a test may run in every build: glibc only where malloc is glibc's.
const char* null_and_glibc() { return kSanitized ? "null" : "null,glibc"; }

// One model, few requests: a cell takes tens of milliseconds. http-upload
// leaves its later threads idle until enough connections overlap (at 40
// requests on 2 threads, thread 1 has no ops): 240 requests give each of 4
// threads work, so a cell of several threads measures several threads.
Args small_run(const std::string& backends, const std::string& threads, unsigned reps, const std::string& out,
               Args extra = {}) {
  std::string requests = threads == "1" ? "40" : "240";
  Args a = {"run",    "-q",        "--workloads", "http-upload", "--requests",          requests, "--backends",
            backends, "--threads", threads,       "--reps",      std::to_string(reps), "-o",     out};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

Args with(Args a, const Args& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The file as JSON; a file that does not parse is a failure of the test.
std::map<std::string, int> id_counts(const json& doc) {
  std::map<std::string, int> n;
  for (const auto& c : doc.value("cells", json::array())) ++n[c.value("id", "")];
  return n;
}

std::map<std::string, int> planned_ids(const Args& backends, const Args& workloads, const std::vector<int>& threads,
                                       int reps) {
  std::map<std::string, int> n;
  for (const auto& b : backends)
    for (const auto& w : workloads)
      for (int t : threads)
        for (int r = 0; r < reps; ++r) ++n[b + "|" + w + "|t" + std::to_string(t) + "|r" + std::to_string(r)];
  return n;
}

json* find_cell(json& doc, const std::string& id) {
  for (auto& c : doc["cells"])
    if (c["id"] == id) return &c;
  return nullptr;
}

unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  return static_cast<unsigned>(CPU_COUNT(&set));
}

using test::expect_bad_input;

void expect_exit(const WorkerOutcome& o, int code) {
  EXPECT_EQ(o.status, WorkerOutcome::Status::exited) << o.describe();
  EXPECT_EQ(o.exit_code, code) << o.err;
}

// The figures every ok cell must carry for the reports.
void expect_ok_cell_figures(json cell, json workloads) {
  SCOPED_TRACE(cell.value("id", "?"));
  ASSERT_EQ(cell["status"], "ok");
  json& r = cell["replay"];
  EXPECT_GT(r["ops_per_second"].get<double>(), 0);
  EXPECT_GT(r["mean_ns"]["alloc"].get<double>(), 0);
  json& lat = r["latency_ns"]["alloc"];
  EXPECT_GT(lat["count"].get<double>(), 0);
  double last = 0;
  for (const char* q : {"p50", "p90", "p99", "p999", "max"}) {
    ASSERT_TRUE(lat[q].is_number()) << q;
    EXPECT_GE(lat[q].get<double>(), last) << q << " below the previous percentile";
    last = lat[q].get<double>();
  }
  // The trace the cell replayed: every op and every request is accounted.
  std::string key = cell["workload"].get<std::string>() + "/t" + std::to_string(cell["threads"].get<int>());
  json& trace = workloads[key];
  ASSERT_TRUE(trace.is_object()) << "no workload " << key;
  EXPECT_EQ(r["ops"], trace["ops"]);
  EXPECT_EQ(r["request_ns"]["count"], trace["requests"]);
  EXPECT_GT(r["request_ns"]["p99"].get<double>(), 0);
  json& mem = r["memory"];
  EXPECT_EQ(mem["timeline_columns"].size(), 6u);
  ASSERT_FALSE(mem["timeline"].empty());
  for (auto& row : mem["timeline"]) EXPECT_EQ(row.size(), 6u) << row.dump();
  EXPECT_GT(mem["peak_rss_bytes"].get<double>(), 0);
  EXPECT_GT(mem["floor_rss_bytes"].get<double>(), 0);
  json& frag = r["fragmentation"];
  ASSERT_TRUE(frag.is_object()) << frag.dump();
  EXPECT_GT(frag["peak_live_bytes"].get<double>(), 0);
  for (const char* k : {"rss_at_peak_live_over_live", "peak_rss_over_peak_live", "heap_at_peak_live_over_live",
                        "peak_heap_over_peak_live", "reserved_at_peak_live_over_live"})
    EXPECT_TRUE(frag.contains(k) && (frag[k].is_null() || frag[k].get<double>() >= 0)) << k << ": " << frag.dump();
  if (cell["backend"] != "null") {
    EXPECT_GT(frag["rss_at_peak_live_over_live"].get<double>(), 0);
    EXPECT_GT(frag["peak_rss_over_peak_live"].get<double>(), 0);
  }
  EXPECT_GE(r["clock"]["overhead_ns"].get<double>(), 0);
  EXPECT_GT(r["clock"]["resolution_ns"].get<double>(), 0);
}

// Median and quartiles by linear interpolation between order statistics.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  std::size_t lo = static_cast<std::size_t>(pos), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// ops_per_second of the ok cells per (backend, threads).
std::map<std::pair<std::string, int>, std::vector<double>> throughput(json doc) {
  std::map<std::pair<std::string, int>, std::vector<double>> by;
  for (auto& c : doc["cells"]) {
    if (c["status"] != "ok") continue;
    double ops = c["replay"]["ops_per_second"].get<double>();
    by[{c["backend"].get<std::string>(), c["threads"].get<int>()}].push_back(ops);
  }
  return by;
}

TEST(Run, WritesEveryPlannedCellOnceWithTheFiguresAReportNeeds) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  std::string out = dir / "r.json";
  auto o = test::alloclab(small_run("null,glibc,bump", "1,2", 2, out));
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = read_json(out);
  EXPECT_EQ(doc["format"], "alloclab-results");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(id_counts(doc), planned_ids({"null", "glibc", "bump@glibc"}, {"http-upload"}, {1, 2}, 2));
  EXPECT_EQ(doc["total_cells"], 12);
  EXPECT_EQ(doc["shard_cells"], 12);
  EXPECT_EQ(doc["cells_done"], 12);
  EXPECT_EQ(doc["cells_ok"], 12);
  EXPECT_EQ(doc["cells_failed"], 0);
  EXPECT_TRUE(doc["failures"].empty());
  std::set<int> orders;
  for (auto& c : doc["cells"]) {
    EXPECT_EQ(c["id"], c["backend"].get<std::string>() + "|" + c["workload"].get<std::string>() + "|t" +
                           std::to_string(c["threads"].get<int>()) + "|r" + std::to_string(c["rep"].get<int>()));
    orders.insert(c["order"].get<int>());
    EXPECT_EQ(c["replay"]["per_thread"].size(), c["threads"].get<std::size_t>());
    expect_ok_cell_figures(c, doc["workloads"]);
  }
  EXPECT_EQ(orders.size(), 12u);
  EXPECT_EQ(*orders.rbegin(), 11);

  json& ctx = doc["context"];
  for (const char* k : {"cpu_model", "kernel", "compiler", "git_revision", "date"})
    EXPECT_FALSE(ctx.value(k, "").empty()) << k;
  EXPECT_EQ(ctx["cores"].get<unsigned>(), usable_cores());
  EXPECT_FALSE(ctx["allocators"]["glibc"].value("version", "").empty()) << ctx["allocators"].dump();

  // One summary per (backend, workload, threads), its spread matching the cells.
  auto by = throughput(doc);
  ASSERT_EQ(doc["summaries"].size(), 6u);
  for (auto& s : doc["summaries"]) {
    SCOPED_TRACE(s["backend"].get<std::string>() + " t" + std::to_string(s["threads"].get<int>()));
    EXPECT_EQ(s["cells"]["ok"], 2);
    for (const char* m : {"ops_per_second", "alloc_mean_ns", "alloc_p99_ns", "peak_rss_bytes"})
      for (const char* k : {"median", "q1", "q3", "iqr"}) EXPECT_TRUE(s["metrics"][m][k].is_number()) << m << "." << k;
    const auto& v = by[{s["backend"].get<std::string>(), s["threads"].get<int>()}];
    json& ops = s["metrics"]["ops_per_second"];
    EXPECT_DOUBLE_EQ(ops["median"].get<double>(), quantile(v, 0.5));
    EXPECT_DOUBLE_EQ(ops["q1"].get<double>(), quantile(v, 0.25));
    EXPECT_DOUBLE_EQ(ops["q3"].get<double>(), quantile(v, 0.75));
    EXPECT_DOUBLE_EQ(ops["iqr"].get<double>(), quantile(v, 0.75) - quantile(v, 0.25));
  }

  // Speedup and efficiency against one thread, from the medians.
  ASSERT_EQ(doc["scaling"].size(), 3u);
  for (auto& line : doc["scaling"]) {
    std::string backend = line["backend"];
    ASSERT_EQ(line["points"].size(), 2u);
    double base = quantile(by[{backend, 1}], 0.5);
    for (auto& p : line["points"]) {
      int t = p["threads"];
      double speedup = quantile(by[{backend, t}], 0.5) / base;
      EXPECT_DOUBLE_EQ(p["speedup"].get<double>(), speedup) << backend << " t" << t;
      EXPECT_DOUBLE_EQ(p["efficiency"].get<double>(), speedup / t) << backend << " t" << t;
      EXPECT_EQ(p["oversubscribed"].get<bool>(), static_cast<unsigned>(t) > usable_cores()) << backend << " t" << t;
    }
  }
}

// The kernel's counts over each replay: a trace that fills new memory takes
// page faults, and the replay's threads spend CPU time; the context names
// the transparent-hugepage mode they ran under.
TEST(Run, EachCellCarriesTheKernelsFaultsAndCpuTimeOfItsReplay) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  std::string out = dir / "r.json";
  auto o = test::alloclab({"run", "-q", "--workloads", "http1-static:scale=4", "--backends", "null,bump@glibc", "--threads", "1",
                     "--reps", "1", "-o", out});
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = read_json(out);
  for (const char* k : {"enabled", "defrag"}) {
    ASSERT_TRUE(doc["context"]["thp"][k].is_string()) << doc["context"].dump();
    EXPECT_FALSE(doc["context"]["thp"][k].get<std::string>().empty());
  }
  for (const auto& c : doc["cells"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    ASSERT_EQ(c["status"], "ok");
    const json& os = c["replay"]["os"];
    for (const char* k : {"minor_faults", "major_faults", "anon_huge_bytes_end"}) EXPECT_TRUE(os[k].is_number_unsigned()) << k;
    EXPECT_GE(os["user_seconds"].get<double>() + os["system_seconds"].get<double>(), 0);
    EXPECT_LE(os["user_seconds"].get<double>() + os["system_seconds"].get<double>(),
              c["replay"]["wall_seconds"].get<double>() * c["replay"]["threads"].get<double>() + 0.02)
        << "CPU time beyond the replay's wall time";
    if (c["backend"] == "bump@glibc") {
      // Bump arenas take fresh pages for every request scope's blocks, which
      // the replay touches: at least one fault per 64 KiB of peak live bytes.
      EXPECT_GT(os["minor_faults"].get<double>(),
                c["replay"]["memory"]["peak_live_bytes_seen"].get<double>() / 65536) << os.dump();
    }
  }
}

TEST(Run, ThreadCountsAboveTheCoresAreMarkedOversubscribed) {
  ScratchDir dir;
  std::string out = dir / "r.json";
  auto o = test::alloclab(small_run("null", "1,4", 1, out));
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = read_json(out);
  ASSERT_EQ(doc["scaling"].size(), 1u);
  std::map<int, bool> over;
  for (auto& p : doc["scaling"][0]["points"]) over[p["threads"].get<int>()] = p["oversubscribed"].get<bool>();
  EXPECT_EQ(over, (std::map<int, bool>{{1, false}, {4, 4 > usable_cores()}}));
}

TEST(Run, ACrashingAllocatorFailsItsCellsAndTheRunGoesOn) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  std::string out = dir / "r.json";
  auto o = test::alloclab(small_run(std::string("glibc,preload:") + FIXTURE_CRASHING, "1", 2, out));
  expect_exit(o, 3);
  json doc = read_json(out);
  ASSERT_EQ(doc["cells"].size(), 4u);
  std::set<std::string> crashed, listed;
  for (auto& c : doc["cells"]) {
    if (c["backend"].get<std::string>().rfind("preload:", 0) == 0) {
      EXPECT_EQ(c["status"], "failed") << c.dump();
      EXPECT_EQ(c["failure"]["kind"], "crashed") << c.dump();
      EXPECT_EQ(c["failure"]["signal"], "SIGSEGV") << c.dump();
      crashed.insert(c["id"].get<std::string>());
    } else {
      EXPECT_EQ(c["status"], "ok") << c.dump();
    }
  }
  EXPECT_EQ(crashed.size(), 2u);
  for (auto& f : doc["failures"]) listed.insert(f["id"].get<std::string>());
  EXPECT_EQ(listed, crashed);
  EXPECT_EQ(doc["cells_failed"], 2);
  EXPECT_EQ(doc["cells_ok"], 2);
}

// No worker the run starts may outlive --timeout: the probe that checks the
// library, the one that asks its version and the cell are each bounded by it.
TEST(Run, AHangingAllocatorTimesOutWithinTheTimeoutGiven) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  std::string out = dir / "r.json";
  auto start = std::chrono::steady_clock::now();
  auto o = test::alloclab(small_run(std::string("preload:") + FIXTURE_HANGING, "1", 1, out, {"--timeout", "2"}));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  expect_exit(o, 3);
  json doc = read_json(out);
  ASSERT_EQ(doc["cells"].size(), 1u);
  EXPECT_EQ(doc["cells"][0]["status"], "failed");
  EXPECT_EQ(doc["cells"][0]["failure"]["kind"], "timed_out") << doc["cells"][0].dump();
  EXPECT_LT(seconds, 15) << "three workers of at most 2 s each";
}

// Kills the background run if a test ends before it does.
struct Reaper {
  pid_t pid;
  int status = 0;
  bool reaped = false;
  int wait() {
    if (!reaped) ::waitpid(pid, &status, 0), reaped = true;
    return status;
  }
  ~Reaper() {
    if (reaped || pid <= 0) return;
    ::kill(pid, SIGKILL);
    wait();
  }
};

// Reads the results file while the run rewrites it until it holds `cells`
// cells; every version read must be a whole document.
json wait_for_cells(const std::string& path, Reaper& run, std::size_t cells) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(run.pid, &run.status, WNOHANG) == run.pid) {
      run.reaped = true;
      ADD_FAILURE() << "the run ended before it held " << cells << " cells";
      return json::object();
    }
    if (fs::exists(path)) {
      json doc = json::parse(slurp(path), nullptr, false);
      if (doc.is_discarded()) {
        ADD_FAILURE() << path << " was read half-written";
        return json::object();
      }
      if (doc["cells"].size() >= cells) return doc;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ADD_FAILURE() << "no " << cells << " cells in " << path << " after 60 s";
  return json::object();
}

// Enough cells (a few seconds) that a kill lands in the middle of the run.
constexpr int kLongReps = 24;
Args long_run(const std::string& out) { return small_run("null", "1", kLongReps, out); }

TEST(Run, AKilledRunLeavesAWholeFileAndResumeFinishesItWithoutRedoingCells) {
  ScratchDir dir;
  std::string out = dir / "r.json", tmp = dir / "tmp";
  fs::create_directory(tmp);
  Reaper run{test::spawn_alloclab(long_run(out), tmp)};
  ASSERT_GT(run.pid, 0);
  // Killed as soon as a second cell is in the file: a worker is running then,
  // so this checks what a kill between two writes leaves.
  wait_for_cells(out, run, 2);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(::kill(run.pid, SIGKILL), 0);
  int status = run.wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  json before = read_json(out);
  ASSERT_GE(before["cells"].size(), 2u);
  ASSERT_LT(before["cells"].size(), static_cast<std::size_t>(kLongReps)) << "the run ended before the kill";
  EXPECT_EQ(before["cells_done"], before["cells"].size());
  // Beside the results only the lock file, which the kernel released with
  // the process: the resumed run takes it over and removes it.
  auto left_beside = [&] {
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(dir.path()))
      if (e.path() != out && e.path() != tmp && e.path() != out + ".lock") left.push_back(e.path().filename());
    return left;
  };
  EXPECT_EQ(left_beside(), std::vector<std::string>{});

  auto o = test::alloclab(with(long_run(out), {"--resume"}));
  ASSERT_TRUE(o.ok()) << o.describe();
  EXPECT_EQ(left_beside(), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(out + ".lock"));
  json after = read_json(out);
  EXPECT_EQ(id_counts(after), planned_ids({"null"}, {"http-upload"}, {1}, kLongReps));
  EXPECT_EQ(after["cells_done"], kLongReps);
  EXPECT_EQ(after["context"], before["context"]);
  for (auto& c : before["cells"]) {
    const json* again = find_cell(after, c["id"]);
    ASSERT_NE(again, nullptr) << c["id"];
    EXPECT_EQ(again->dump(), c.dump()) << "cell " << c["id"] << " was redone";
  }
}

TEST(Run, SigtermKeepsTheFinishedCellsAndExits130) {
  ScratchDir dir;
  std::string out = dir / "r.json", tmp = dir / "tmp";
  fs::create_directory(tmp);
  Reaper run{test::spawn_alloclab(long_run(out), tmp)};
  ASSERT_GT(run.pid, 0);
  wait_for_cells(out, run, 1);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(::kill(run.pid, SIGTERM), 0);
  int status = run.wait();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  json doc = read_json(out);
  EXPECT_GE(doc["cells"].size(), 1u);
  EXPECT_LT(doc["cells"].size(), static_cast<std::size_t>(kLongReps));
  EXPECT_TRUE(fs::is_empty(tmp)) << "the run's generated traces were left behind";
}

TEST(Merge, ThreeShardsMakeTheWholeRun) {
  ScratchDir dir;
  auto config = [&](const std::string& out, Args extra = {}) { return small_run("null", "1,2", 3, out, extra); };
  auto shard_file = [&](int k) { return dir.path() + "/s" + std::to_string(k) + ".json"; };
  std::set<std::string> seen;
  std::uint64_t shard_cells = 0;
  for (int k = 1; k <= 3; ++k) {
    std::string shard = std::to_string(k) + "/3";
    auto o = test::alloclab(config(shard_file(k), {"--shard", shard}));
    ASSERT_TRUE(o.ok()) << shard << ": " << o.describe();
    json doc = read_json(shard_file(k));
    EXPECT_EQ(doc["shard"], (json{{"index", k}, {"count", 3}}));
    EXPECT_EQ(doc["total_cells"], 6);
    EXPECT_EQ(doc["shard_cells"], doc["cells"].size());
    shard_cells += doc["cells"].size();
    for (auto& c : doc["cells"]) {
      EXPECT_TRUE(seen.insert(c["id"].get<std::string>()).second) << c["id"] << " in two shards";
    }
  }
  EXPECT_EQ(shard_cells, 6u);
  ASSERT_TRUE(test::alloclab(config(dir / "whole.json")).ok());
  json whole = read_json(dir / "whole.json");

  auto o = test::alloclab({"merge", "-o", dir / "m.json", dir / "s1.json", dir / "s2.json", dir / "s3.json"});
  ASSERT_TRUE(o.ok()) << o.describe();
  json merged = read_json(dir / "m.json");
  std::set<std::string> whole_ids, merged_ids;
  for (const auto& [id, n] : id_counts(whole)) whole_ids.insert(id);
  for (const auto& [id, n] : id_counts(merged)) {
    EXPECT_EQ(n, 1) << id;
    merged_ids.insert(id);
  }
  EXPECT_EQ(merged_ids, whole_ids);
  EXPECT_EQ(merged["total_cells"], whole["total_cells"]);
  EXPECT_EQ(merged["cells_done"], whole["total_cells"]);
  EXPECT_EQ(merged["shard"], (json{{"index", 1}, {"count", 1}}));
  EXPECT_EQ(merged["config"], whole["config"]);
  EXPECT_EQ(merged["summaries"].size(), whole["summaries"].size());
  for (int k = 1; k <= 3; ++k) {
    json shard = read_json(shard_file(k));
    for (auto& c : shard["cells"]) {
      const json* m = find_cell(merged, c["id"]);
      ASSERT_NE(m, nullptr) << c["id"];
      EXPECT_EQ(*m, c);
    }
  }

  // Two slices merged are a partial whole run: --resume runs the rest.
  ASSERT_TRUE(test::alloclab({"merge", "-o", dir / "p.json", dir / "s1.json", dir / "s2.json"}).ok());
  json partial = read_json(dir / "p.json");
  auto r = test::alloclab(config(dir / "p.json", {"--resume"}));
  ASSERT_TRUE(r.ok()) << r.describe();
  json resumed = read_json(dir / "p.json");
  EXPECT_EQ(id_counts(resumed), id_counts(whole));
  for (auto& c : partial["cells"]) {
    const json* again = find_cell(resumed, c["id"]);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(*again, c) << c["id"] << " was redone";
  }
}

TEST(Merge, RefusesACellTwiceAndFilesOfAnotherConfiguration) {
  ScratchDir dir;
  std::string a = dir / "a.json", b = dir / "b.json";
  ASSERT_TRUE(test::alloclab(small_run("null", "1", 2, a)).ok());
  ASSERT_TRUE(test::alloclab(small_run("null", "1", 2, b, {"--seed", "2"})).ok());
  expect_bad_input(test::alloclab({"merge", "-o", dir / "m.json", a, a}), "is in both");
  EXPECT_FALSE(fs::exists(dir / "m.json"));
  expect_bad_input(test::alloclab({"merge", "-o", dir / "m.json", a, b}), "another configuration");
  EXPECT_FALSE(fs::exists(dir / "m.json"));
}

// Two shards of one run, the second as if measured on a 64-core machine:
// merge refuses them, and with --allow-machines every cell names its machine.
TEST(Merge, KeepsMachinesApartExplicitly) {
  ScratchDir dir;
  auto shard = [&](int k) { return dir / (std::to_string(k) + "-of-2.json"); };
  for (int k = 1; k <= 2; ++k) {
    auto o = test::alloclab(small_run("null", "1", 2, shard(k), {"--shard", std::to_string(k) + "/2"}));
    ASSERT_TRUE(o.ok()) << o.describe();
  }
  json other = read_json(shard(2));
  other["context"]["cores"] = 64;
  other["context"]["cpu_model"] = "Another CPU";
  {
    std::ofstream out(shard(2), std::ios::binary | std::ios::trunc);
    out << other.dump();
  }
  expect_bad_input(test::alloclab({"merge", "-o", dir / "m.json", shard(1), shard(2)}), "another machine");
  EXPECT_FALSE(fs::exists(dir / "m.json"));

  auto o = test::alloclab({"merge", "--allow-machines", "-o", dir / "m.json", shard(1), shard(2)});
  ASSERT_TRUE(o.ok()) << o.describe();
  json merged = read_json(dir / "m.json");
  ASSERT_EQ(merged["context"]["other_machines"].size(), 1u);
  EXPECT_EQ(merged["context"]["other_machines"][0]["cores"], 64);
  EXPECT_EQ(merged["context"].value("cpu_model", ""), read_json(shard(1))["context"].value("cpu_model", ""));
  for (int k = 1; k <= 2; ++k) {
    json slice = read_json(shard(k));  // held: a range-for over a temporary's member dangles
    for (const auto& c : slice["cells"]) {
      const json* m = find_cell(merged, c["id"]);
      ASSERT_NE(m, nullptr) << c["id"];
      EXPECT_EQ((*m)["machine"], k - 1) << c["id"];
      json without = *m;
      without.erase("machine");
      EXPECT_EQ(without, c);
    }
  }
  // Summaries and scaling never pool machines: an entry per machine, one of
  // machine k > 0 naming it.
  std::map<std::tuple<std::string, std::string, int, int>, int> ok_cells;
  for (const auto& c : merged["cells"])
    if (c["status"] == "ok") ++ok_cells[{c["backend"], c["workload"], c["threads"], c.value("machine", 0)}];
  std::set<int> summarized, scaled;
  for (const auto& s : merged["summaries"]) {
    auto key = std::make_tuple(s["backend"].get<std::string>(), s["workload"].get<std::string>(),
                               s["threads"].get<int>(), s.value("machine", 0));
    EXPECT_EQ(s["cells"]["ok"].get<int>(), ok_cells[key]) << s.dump();
    summarized.insert(s.value("machine", 0));
  }
  for (const auto& s : merged["scaling"]) scaled.insert(s.value("machine", 0));
  EXPECT_EQ(summarized, (std::set<int>{0, 1}));
  EXPECT_EQ(scaled, (std::set<int>{0, 1}));
  // The merged file keeps its machines through another merge, which needs the flag again.
  expect_bad_input(test::alloclab({"merge", "-o", dir / "again.json", dir / "m.json"}), "another machine");
  ASSERT_TRUE(test::alloclab({"merge", "--allow-machines", "-o", dir / "again.json", dir / "m.json"}).ok());
  json again = read_json(dir / "again.json");
  EXPECT_EQ(again["context"]["other_machines"], merged["context"]["other_machines"]);
  EXPECT_EQ(again["cells"], merged["cells"]);
  // Shards of one machine carry no machine numbers.
  ASSERT_TRUE(test::alloclab({"merge", "-o", dir / "one.json", shard(1)}).ok());
  json one = read_json(dir / "one.json");
  for (const auto& c : one["cells"]) EXPECT_FALSE(c.contains("machine")) << c["id"];
}

TEST(Run, ResumeAndOverwriteRules) {
  ScratchDir dir;
  std::string out = dir / "r.json";
  Args base = small_run("null", "1", 1, out);
  ASSERT_TRUE(test::alloclab(base).ok());
  const std::string first = slurp(out);

  expect_bad_input(test::alloclab(with(base, {"--seed", "2", "--resume"})), "another configuration");
  EXPECT_EQ(slurp(out), first);
  expect_bad_input(test::alloclab(with(base, {"--resume", "--shard", "1/2"})), "shard");
  EXPECT_EQ(slurp(out), first);
  expect_bad_input(test::alloclab(base), "exists");
  EXPECT_EQ(slurp(out), first);
  // Resuming a finished run runs nothing.
  ASSERT_TRUE(test::alloclab(with(base, {"--resume"})).ok());
  EXPECT_EQ(read_json(out)["cells"], json::parse(first)["cells"]);

  std::string garbage = dir / "g.json";
  std::ofstream(garbage) << "{\"format\": \"alloclab-res";
  expect_bad_input(test::alloclab(small_run("null", "1", 1, garbage, {"--resume"})), "cannot resume");
  EXPECT_EQ(slurp(garbage), "{\"format\": \"alloclab-res");

  ASSERT_TRUE(test::alloclab(with(base, {"--seed", "2", "--force"})).ok());
  json doc = read_json(out);
  EXPECT_EQ(doc["config"]["seed"], 2);
  EXPECT_EQ(doc["cells"].size(), 1u);
}

TEST(Run, BadInputIsOneLineAndWritesNothing) {
  ScratchDir dir;
  std::string out = dir / "r.json", bad = dir / "bad.trace";
  std::ofstream(bad) << "GET / HTTP/1.1\r\nnot a trace at all\n";
  struct Case {
    Args args;
    std::string needle;
  };
  const Case cases[] = {
      {small_run("nosuch", "1", 1, out), "unknown backend 'nosuch'"},
      {{"run", "-q", "--backends", "null", "--workloads", "nosuch", "-o", out}, "unknown workload 'nosuch'"},
      {small_run("null", "1", 1, out, {"--shard", "0/2"}), "--shard: '0/2'"},
      {small_run("null", "1", 1, out, {"--shard", "3/2"}), "--shard: '3/2'"},
      {small_run("null", "0", 1, out), "--threads: '0'"},
      {{"run", "-q", "--backends", "null", "--workloads", "scope-sweep:color=red", "-o", out}, "no option 'color'"},
      {{"run", "-q", "--backends", "null", "--workloads", "http1-static:scale=0", "-o", out}, "scale=0"},
      {{"run", "-q", "--backends", "null", "--workloads", "http1-static:scale", "-o", out}, "not KEY=VALUE"},
      {{"run", "-q", "--backends", "null", "--workloads", "proxy,proxy", "-o", out}, "names proxy twice"},
      // Flags that used to pass silently: a NaN or zero timeout, a limit that
      // wraps, a seed that wraps, an empty list meaning "all".
      {small_run("null", "1", 1, out, {"--timeout", "nan"}), "--timeout: must be a number of seconds"},
      {small_run("null", "1", 1, out, {"--timeout", "0"}), "at most 604800 (a week)"},
      {small_run("null", "1", 1, out, {"--memory-limit", "99999999999999999999G"}), "more than 1 EiB"},
      {small_run("null", "1", 1, out, {"--seed", "-1"}), "'-1' is not a whole number from 0 to 18446744073709551615"},
      {small_run("null", "1", 1, out, {"--seed", "99999999999999999999999"}), "is not a whole number"},
      {{"run", "-q", "--backends", "", "-o", out}, "--backends is empty"},
      {{"run", "-q", "--backends", "null", "--workloads", "", "-o", out}, "--workloads is empty"},
      {{"run", "-q", "--backends", "null", "--trace", bad, "-o", out}, bad},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.needle);
    expect_bad_input(test::alloclab(c.args), c.needle);
    EXPECT_FALSE(fs::exists(out));
  }
}

// The default suite adds its claim experiments, each with only the backends,
// thread counts and repetitions it names; a run that names its own
// workloads gets none, and options after a comma stay with their model.
TEST(Run, ClaimExperimentsRunOnlyTheBackendsTheyNeed) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  auto plan = test::alloclab({"run", "--dry-run", "--backends", "null,glibc,jemalloc,scoped@glibc,fixed-regions@glibc",
                              "-o", dir / "r.json"});
  ASSERT_TRUE(plan.ok()) << plan.err;
  json config = json::parse(plan.out.substr(0, plan.out.rfind('}') + 1));
  std::map<std::string, json> by_name;
  for (const auto& w : config["workloads"]) by_name[w["name"]] = w;
  ASSERT_TRUE(by_name.count("http1-static"));
  EXPECT_FALSE(by_name["http1-static"].contains("backends"));  // the grid: every backend
  const json& sweep = by_name.at("scope-sweep:n=1024");
  EXPECT_EQ(sweep["model"], "scope-sweep");
  EXPECT_EQ(sweep["params"]["n"], "1024");
  EXPECT_EQ(sweep["backends"], json({"null", "scoped@glibc"}));  // bump and nginx were not asked for
  EXPECT_EQ(sweep["threads"], json({1}));
  const json& paced = by_name.at("long-running:days=1,from=12,day_seconds=24");
  EXPECT_EQ(paced["backends"], json({"glibc", "jemalloc"}));
  EXPECT_EQ(paced["reps"], 3);
  EXPECT_EQ(by_name.at("small-objects")["backends"], json({"null", "glibc", "jemalloc"}));
  // 5 models x 5 backends x 2 thread counts x 5 reps, and the experiments' own cells.
  std::size_t cells = 5 * 5 * 2 * 5;
  for (const auto& [name, w] : by_name) {
    if (!w.contains("backends")) continue;
    cells += w["backends"].size() * w["threads"].size() * (w.contains("reps") ? w["reps"].get<std::size_t>() : 5);
  }
  EXPECT_NE(plan.out.find(std::to_string(cells) + " cells"), std::string::npos) << plan.out.substr(plan.out.rfind('}'));

  auto own = test::alloclab({"run", "--dry-run", "--backends", "null", "--workloads",
                             "scope-sweep:n=4,size=16,http1-static:scale=2", "-o", dir / "r.json"});
  ASSERT_TRUE(own.ok()) << own.err;
  json c2 = json::parse(own.out.substr(0, own.out.rfind('}') + 1));
  ASSERT_EQ(c2["workloads"].size(), 2u);
  EXPECT_EQ(c2["workloads"][0]["name"], "scope-sweep:n=4,size=16");
  EXPECT_EQ(c2["workloads"][0]["params"], json({{"n", "4"}, {"size", "16"}}));
  EXPECT_EQ(c2["workloads"][1]["params"], json({{"scale", "2"}}));
}

// A list with nothing in it is a mistake, as --backends , already is, not a
// run of zero cells.
TEST(Run, EmptyWorkloadOrThreadListsAreBadInput) {
  ScratchDir dir;
  std::string out = dir / "r.json";
  expect_bad_input(test::alloclab({"run", "-q", "--backends", "null", "--workloads", ",", "-o", out}), "--workloads");
  EXPECT_FALSE(fs::exists(out));
  fs::remove(out);
  expect_bad_input(test::alloclab(small_run("null", ",", 1, out)), "--threads");
  EXPECT_FALSE(fs::exists(out));
}

TEST(Run, APreloadThatIsNotAMallocIsBadInput) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  std::string out = dir / "r.json";
  expect_bad_input(test::alloclab(small_run(std::string("preload:") + FIXTURE_NOT_MALLOC, "1", 1, out)),
                   "is not a malloc library");
  EXPECT_FALSE(fs::exists(out));
}

// At 20 requests the trace's second thread has no ops: an idle thread must
// replay as well as a busy one.
TEST(Run, ATraceFileKeepsItsNameAndThreadCount) {
  ScratchDir dir;
  std::string trace = dir / "f.trace", out = dir / "r.json";
  auto g = test::alloclab({"trace", "gen", "http-upload", "--requests", "20", "--threads", "2", "-o", trace});
  ASSERT_TRUE(g.ok()) << g.describe();
  auto o = test::alloclab({"run", "-q", "--trace", trace, "--backends", null_and_glibc(), "--reps", "1", "-o", out});
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = read_json(out);
  Args backends = kSanitized ? Args{"null"} : Args{"null", "glibc"};
  EXPECT_EQ(id_counts(doc), planned_ids(backends, {"trace:f"}, {2}, 1));
  for (auto& c : doc["cells"]) {
    EXPECT_EQ(c["workload"], "trace:f");
    EXPECT_EQ(c["threads"], 2);
    EXPECT_EQ(c["status"], "ok") << c.dump();
    EXPECT_EQ(c["replay"]["threads"], 2);
  }
  EXPECT_EQ(doc["workloads"]["trace:f/t2"]["threads"], 2);
  EXPECT_EQ(doc["config"]["workloads"][0]["path"], trace);
}

// Two runs of the same configuration, exported for Google Benchmark's tools.
void two_runs(const ScratchDir& dir) {
  for (const char* name : {"r1", "r2"}) {
    auto o = test::alloclab(small_run(null_and_glibc(), "1", 2, dir / (std::string(name) + ".json")));
    ASSERT_TRUE(o.ok()) << o.describe();
    auto e = test::alloclab({"export", dir / (std::string(name) + ".json"), "--format", "gbench", "-o",
                             dir / (std::string(name) + ".gbench.json")});
    ASSERT_TRUE(e.ok()) << e.describe();
  }
}

TEST(Export, GbenchHasOneEntryPerRepetitionWithRealTimes) {
  ScratchDir dir;
  two_runs(dir);
  ASSERT_FALSE(HasFatalFailure());
  json g = read_json(dir / "r1.gbench.json");
  ASSERT_TRUE(g["benchmarks"].is_array());
  ASSERT_FALSE(g["benchmarks"].empty());
  std::map<std::string, std::vector<int>> reps;  // name -> repetition indexes, in file order
  std::string previous;
  for (auto& b : g["benchmarks"]) {
    SCOPED_TRACE(b.dump());
    for (const char* k : {"name", "real_time", "cpu_time", "time_unit", "repetitions", "repetition_index", "run_type"})
      ASSERT_TRUE(b.contains(k)) << k;
    for (const char* k : {"real_time", "cpu_time"}) {
      ASSERT_TRUE(b[k].is_number()) << k;  // NaN is written as null
      EXPECT_TRUE(std::isfinite(b[k].get<double>()) && b[k].get<double>() > 0) << k;
    }
    EXPECT_EQ(b["time_unit"], "ns");
    EXPECT_EQ(b["run_type"], "iteration");
    EXPECT_EQ(b["repetitions"], 2);
    std::string name = b["name"];
    // compare.py pairs repetitions by position: one name's entries are adjacent.
    if (name != previous) {
      EXPECT_FALSE(reps.count(name)) << name << " is split";
    }
    previous = name;
    reps[name].push_back(b["repetition_index"].get<int>());
  }
  for (const auto& [name, idx] : reps) EXPECT_EQ(idx, (std::vector<int>{0, 1})) << name;
  EXPECT_TRUE(reps.count("null/http-upload/threads:1/op"));
  EXPECT_TRUE(reps.count("null/http-upload/threads:1/alloc"));
  if (!kSanitized) {
    EXPECT_TRUE(reps.count("glibc/http-upload/threads:1/op"));
  }
}

// Each entry is one ok cell's own figure (a name's entries follow its cells'
// order in the file), as export.hpp defines them: wall and allocator ns per
// op, the mean allocate and free, the sampled 99th percentile of allocate.
TEST(Export, GbenchTimesAreEachCellsOwnFigures) {
  ScratchDir dir;
  std::string out = dir / "r.json";
  ASSERT_TRUE(test::alloclab(small_run(null_and_glibc(), "1", 2, out)).ok());
  auto e = test::alloclab({"export", out, "--format", "gbench"});
  ASSERT_TRUE(e.ok()) << e.describe();
  json g = json::parse(e.out, nullptr, false);
  ASSERT_FALSE(g.is_discarded()) << e.out;
  json doc = read_json(out);
  std::map<std::string, std::vector<json>> replays;  // "BACKEND/WORKLOAD/threads:T" -> replay, in file order
  for (auto& c : doc["cells"]) {
    std::string group = c["backend"].get<std::string>() + "/" + c["workload"].get<std::string>() + "/threads:" +
                        std::to_string(c["threads"].get<int>());
    replays[group].push_back(c["replay"]);
  }
  auto floored = [](double v) { return std::max(v, 0.001); };
  int checked = 0;
  for (auto& b : g["benchmarks"]) {
    std::string name = b["name"];
    std::string group = name.substr(0, name.rfind('/')), what = name.substr(name.rfind('/') + 1);
    int idx = b["repetition_index"];
    ASSERT_LT(static_cast<std::size_t>(idx), replays[group].size()) << name;
    json& r = replays[group][static_cast<std::size_t>(idx)];
    double real = 0, cpu = 0;
    if (what == "op") {
      double ops = r["ops"].get<double>();
      real = r["wall_seconds"].get<double>() * 1e9 / ops;
      cpu = r["allocator_seconds"].get<double>() * 1e9 / ops;
    } else if (what == "alloc" || what == "free") {
      real = cpu = r["mean_ns"][what].get<double>();
    } else if (what == "alloc_p99") {
      real = cpu = r["latency_ns"]["alloc"]["p99"].get<double>();
    } else {
      ADD_FAILURE() << "unexpected entry " << name;
      continue;
    }
    EXPECT_NEAR(b["real_time"].get<double>(), floored(real), 1e-9 * floored(real)) << name << " #" << idx;
    EXPECT_NEAR(b["cpu_time"].get<double>(), floored(cpu), 1e-9 * floored(cpu)) << name << " #" << idx;
    ++checked;
  }
  EXPECT_EQ(checked, 4 * static_cast<int>(doc["cells"].size()));
}

TEST(Export, GoogleBenchmarksComparePyReadsTwoRuns) {
  const char* compare = "/usr/share/benchmark/compare.py";
  if (!fs::exists(compare)) GTEST_SKIP() << compare << " is missing (scripts/install-deps.sh: libbenchmark-tools)";
  WorkerRequest scipy;
  scipy.argv = {"/usr/bin/python3", "-c", "import scipy"};
  if (!run_worker(scipy).ok()) GTEST_SKIP() << "python3 has no scipy (scripts/install-deps.sh: python3-scipy)";
  ScratchDir dir;
  two_runs(dir);
  ASSERT_FALSE(HasFatalFailure());
  WorkerRequest req;
  req.argv = {"/usr/bin/python3", compare, "benchmarks", dir / "r1.gbench.json", dir / "r2.gbench.json"};
  req.timeout = std::chrono::seconds(60);
  auto o = run_worker(req);
  ASSERT_TRUE(o.ok()) << o.describe() << "\n" << o.err;
  std::string op = kSanitized ? "null/http-upload/threads:1/op" : "glibc/http-upload/threads:1/op";
  EXPECT_NE(o.out.find(op), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(op + "_pvalue"), std::string::npos) << o.out;
}

TEST(Export, CsvHasAThroughputRowPerOkCell) {
  ScratchDir dir;
  std::string out = dir / "r.json";
  ASSERT_TRUE(test::alloclab(small_run(null_and_glibc(), "1", 2, out)).ok());
  auto e = test::alloclab({"export", out, "--format", "csv"});
  ASSERT_TRUE(e.ok()) << e.describe();
  std::istringstream lines(e.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "cell,backend,workload,threads,rep,status,metric,value");
  std::map<std::string, double> ops;  // cell -> ops_per_second
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 8u) << line;
    if (f[6] == "ops_per_second") {
      EXPECT_TRUE(ops.emplace(f[0], std::stod(f[7])).second) << f[0] << " twice";
    }
  }
  json doc = read_json(out);
  ASSERT_EQ(ops.size(), doc["cells"].size());
  for (auto& c : doc["cells"]) {
    EXPECT_EQ(ops[c["id"].get<std::string>()], c["replay"]["ops_per_second"].get<double>()) << c["id"];
  }

  std::string garbage = dir / "g.json";
  std::ofstream(garbage) << "[1, 2";
  expect_bad_input(test::alloclab({"export", garbage, "--format", "csv"}), "not JSON");
}

TEST(Run, ABackendThatCannotRunAWorkloadIsUnsupportedNotFailed) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  std::string out = dir / "r.json";
  auto o = test::alloclab({"run", "-q", "--backends", "pool", "--workloads", "proxy", "--requests", "40",
                           "--threads", "2", "--reps", "1", "-o", out});
  ASSERT_TRUE(o.ok()) << o.describe();
  json doc = read_json(out);
  ASSERT_EQ(doc["cells"].size(), 1u);
  json& c = doc["cells"][0];
  EXPECT_EQ(c["id"], "pool@glibc|proxy|t2|r0");
  EXPECT_EQ(c["status"], "unsupported") << c.dump();
  EXPECT_NE(c.value("reason", "").find("thread"), std::string::npos) << c.dump();
  EXPECT_FALSE(c.contains("replay"));
  EXPECT_EQ(doc["cells_unsupported"], 1);
  EXPECT_EQ(doc["cells_failed"], 0);
  EXPECT_TRUE(doc["failures"].empty());
  ASSERT_EQ(doc["summaries"].size(), 1u);
  EXPECT_EQ(doc["summaries"][0]["cells"]["unsupported"], 1);
}

}  // namespace
}  // namespace alloclab
