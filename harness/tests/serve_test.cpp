// `alloclab serve`: every server kind starts, is measured under the
// allocator asked for, and stops; a stopped or killed suite leaves no
// process or folder behind; bad flags and missing programs have their exit
// statuses.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <filesystem>
#include <set>
#include <thread>

#include "harness/tests/test_util.hpp"

extern char** environ;

namespace alloclab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::ScratchDir;

// Processes whose working folder is under `dir` (every server runs in its
// prefix there).
std::vector<std::string> processes_in(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::error_code ec;
    auto cwd = fs::read_symlink(std::string("/proc/") + e->d_name + "/cwd", ec).string();
    if (ec || cwd.rfind(dir, 0) != 0) continue;
    std::string stat;
    std::ifstream(std::string("/proc/") + e->d_name + "/stat") >> stat;
    out.push_back(std::string(e->d_name) + " in " + cwd);
  }
  if (d) ::closedir(d);
  return out;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  return out;
}

// Waits until a server runs under `dir` (true) or `pid` ends (false).
bool wait_for_server(pid_t pid, const std::string& dir, int& status) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    if (!processes_in(dir).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// TMPDIR for a suite: a folder the servers' workers (nobody, under root)
// can reach, so their prefixes and processes are inside the test's folder.
std::string scratch_tmp(const ScratchDir& dir) {
  fs::permissions(dir.path(), fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
  std::string tmp = dir / "tmp";
  fs::create_directory(tmp);
  fs::permissions(tmp, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
  return tmp;
}

const std::vector<std::string> kQuick = {"--warmup", "0", "--peak", "1", "--fixed", "0.5", "-q", "-c", "8"};

std::vector<std::string> serve_args(const std::string& servers, const std::string& backends, const std::string& out,
                                    int reps = 1) {
  std::vector<std::string> a = {"serve", "--servers", servers, "--backends", backends, "-o", out, "-r", std::to_string(reps)};
  a.insert(a.end(), kQuick.begin(), kQuick.end());
  return a;
}

TEST(Serve, EveryServerKindIsMeasuredUnderTheAllocatorAskedForAndLeavesNothingRunning) {
  ScratchDir dir;
  std::string out = dir / "serve.json", tmp = scratch_tmp(dir);
  WorkerRequest req;
  req.argv = {ALLOCLAB_BIN};
  for (auto& a : serve_args("nginx,h2o,haproxy,apache,node,rust", "glibc,jemalloc", out)) req.argv.push_back(a);
  req.env = {"TMPDIR=" + tmp};
  req.timeout = std::chrono::seconds(240);
  auto o = run_worker(req);
  ASSERT_TRUE(o.ok()) << o.describe() << "\n" << o.err;
  json doc = test::read_json(out);
  EXPECT_EQ(doc["format"], "alloclab-serve");
  EXPECT_EQ(doc["complete"], true);
  ASSERT_EQ(doc["cells"].size(), 12u);
  std::set<std::string> seen;
  for (const auto& c : doc["cells"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    ASSERT_EQ(c["status"], "ok") << c.value("failure", "");
    seen.insert(c["server"].get<std::string>() + "/" + c["allocator"].get<std::string>());
    // The library answering malloc in the server process is the one asked for.
    ASSERT_FALSE(c["identity"].empty());
    for (const auto& id : c["identity"]) EXPECT_EQ(id["family"], c["allocator"]);
    // Peak: wrk answered requests, and the server spent CPU on them.
    EXPECT_GT(c["peak"]["requests"].get<double>(), 100);
    EXPECT_EQ(c["peak"]["errors"], 0);
    EXPECT_GT(c["peak"]["rps"].get<double>(), 100);
    EXPECT_GT(c["peak"]["server"]["ns_per_request"].get<double>(), 0);
    // Fixed rate: the schedule's requests, latency percentiles in order.
    const auto& f = c["fixed"];
    EXPECT_GT(f["requests"].get<double>(), 0);
    EXPECT_LE(f["requests"].get<double>(), f["due"].get<double>());
    EXPECT_GT(f["latency_us"]["p50"].get<double>(), 0);
    EXPECT_LE(f["latency_us"]["p50"].get<double>(), f["latency_us"]["p99"].get<double>());
    EXPECT_LE(f["latency_us"]["p99"].get<double>(), f["latency_us"]["max"].get<double>());
    // Memory from /proc: a resident peak and RSS samples.
    EXPECT_GT(c["memory"]["vm_hwm_kib"].get<double>(), 1000);
    EXPECT_GT(c["memory"]["pss_kib"].get<double>(), 0);
    EXPECT_FALSE(c["memory"]["rss_series"].empty());
    EXPECT_FALSE(c.contains("leftover_processes"));
    if (c["server"] == "node") {
      EXPECT_GT(c["gc"]["count"].get<double>(), 0) << "V8's --trace-gc lines were not read";
      // One full collection forced after the load, told apart from V8's own.
      ASSERT_TRUE(c["gc"]["forced"].is_object()) << c["gc"].dump().substr(0, 300);
      EXPECT_GT(c["gc"]["forced"]["pause_ms"].get<double>(), 0);
      int forced = 0;
      for (const auto& x : c["gc"]["collections"]) forced += x[1] == "forced";
      EXPECT_EQ(forced, 1);
    }
  }
  EXPECT_EQ(seen.size(), 12u);
  // nginx has a master and a worker process; both are counted.
  for (const auto& c : doc["cells"]) {
    if (c["server"] == "nginx") {
      EXPECT_EQ(c["memory"]["processes"], 2);
    }
  }
  EXPECT_FALSE(doc["comparisons"].empty());
  EXPECT_EQ(processes_in(dir.path()), std::vector<std::string>{});
  EXPECT_EQ(entries(tmp), std::vector<std::string>{}) << "a server prefix was left behind";
}

// --predict: the server's own allocations, captured under load, replayed
// under each allocator beside the server's measured CPU per request.
TEST(Serve, PredictReplaysTheServersCapturedAllocationsUnderEachAllocator) {
#ifdef ALLOCLAB_SANITIZED
  GTEST_SKIP() << "the replay preloads general allocators into workers, which a sanitized build cannot";
#endif
  ScratchDir dir;
  std::string out = dir / "serve.json", tmp = scratch_tmp(dir);
  WorkerRequest req;
  req.argv = {ALLOCLAB_BIN};
  for (auto& a : serve_args("nginx", "glibc,jemalloc", out)) req.argv.push_back(a);
  for (const char* a : {"--predict", "--predict-reps", "1"}) req.argv.push_back(a);
  req.env = {"TMPDIR=" + tmp};
  req.timeout = std::chrono::seconds(240);
  auto o = run_worker(req);
  ASSERT_TRUE(o.ok()) << o.describe() << "\n" << o.err;
  json doc = test::read_json(out);
  EXPECT_EQ(doc["complete"], true);
  ASSERT_EQ(doc["predictions"].size(), 1u);
  const auto& p = doc["predictions"][0];
  ASSERT_EQ(p["status"], "ok") << p.value("failure", "");
  EXPECT_EQ(p["server"], "nginx");
  // wrk's requests reached the traced server, whose worker made allocations.
  EXPECT_GT(p["capture"]["requests"].get<double>(), 100);
  ASSERT_EQ(p["allocators"].size(), 2u);
  for (const auto& row : p["allocators"]) {
    SCOPED_TRACE(row["allocator"].get<std::string>());
    EXPECT_EQ(row["replay_reps"], 1);
    EXPECT_GT(row["ops_per_request"].get<double>(), 0.1) << "nginx allocates per request (buffers, posix_memalign)";
    EXPECT_GT(row["replay_ns_per_request"].get<double>(), 0);
    EXPECT_GT(row["server_cpu_ns_per_request"].get<double>(), row["replay_ns_per_request"].get<double>());
    EXPECT_NEAR(row["replay_share_of_server_cpu"].get<double>(),
                row["replay_ns_per_request"].get<double>() / row["server_cpu_ns_per_request"].get<double>(), 1e-9);
  }
  EXPECT_EQ(p["spearman_n"], 2);
  EXPECT_EQ(processes_in(dir.path()), std::vector<std::string>{});
  EXPECT_EQ(entries(tmp), std::vector<std::string>{});
}

TEST(Serve, SigtermStopsEveryServerKeepsFinishedCellsAndRemovesItsFolders) {
  ScratchDir dir;
  std::string out = dir / "serve.json", tmp = scratch_tmp(dir);
  pid_t pid = test::spawn_alloclab(serve_args("nginx,haproxy", "glibc,jemalloc", out, 3), tmp);
  ASSERT_GT(pid, 0);
  int status = 0;
  // Past the first cell, into a later one with its server up.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(out) && std::chrono::steady_clock::now() < until && ::waitpid(pid, &status, WNOHANG) == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(wait_for_server(pid, tmp, status)) << "no server started; status " << status;
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  json doc = test::read_json(out);
  EXPECT_EQ(doc["complete"], false);
  EXPECT_GE(doc["cells"].size(), 1u);
  for (const auto& c : doc["cells"]) EXPECT_EQ(c["status"], "ok") << c["id"];
  EXPECT_EQ(processes_in(dir.path()), std::vector<std::string>{});
  EXPECT_EQ(entries(tmp), std::vector<std::string>{});
}

TEST(Serve, AKilledSuiteLeavesNothingOnceTheNextOneHasRun) {
  ScratchDir dir;
  std::string out = dir / "serve.json", tmp = scratch_tmp(dir);
  pid_t pid = test::spawn_alloclab(serve_args("nginx", "glibc", out, 5), tmp);
  int status = 0;
  ASSERT_TRUE(wait_for_server(pid, tmp, status)) << "no server started; status " << status;
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  // The next suite removes what the killed one left: processes and folder.
  WorkerRequest req;
  req.argv = {ALLOCLAB_BIN};
  for (auto& a : serve_args("nginx", "glibc", dir / "again.json")) req.argv.push_back(a);
  req.env = {"TMPDIR=" + tmp};
  auto o = run_worker(req);
  ASSERT_TRUE(o.ok()) << o.describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(processes_in(dir.path()), std::vector<std::string>{});
  EXPECT_EQ(entries(tmp), std::vector<std::string>{});
}

// One real two-cell file (nginx under glibc and jemalloc), made once for the
// tests that read, resume, merge and export server results.
class ServeFile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("serve-file");
    std::string tmp = scratch_tmp(*dir_);
    WorkerRequest req;
    req.argv = {ALLOCLAB_BIN};
    for (auto& a : serve_args("nginx", "glibc,jemalloc", *dir_ / "base.json")) req.argv.push_back(a);
    req.env = {"TMPDIR=" + tmp};
    auto o = run_worker(req);
    ASSERT_TRUE(o.ok()) << o.describe();
    base_ = new json(test::read_json(*dir_ / "base.json"));
  }
  static void TearDownTestSuite() {
    delete base_;
    delete dir_;
  }
  static std::string write(const std::string& name, const json& doc) {
    std::string path = *dir_ / name;
    std::ofstream(path) << doc.dump(1);
    return path;
  }
  static ScratchDir* dir_;
  static json* base_;
};
ScratchDir* ServeFile::dir_ = nullptr;
json* ServeFile::base_ = nullptr;

TEST_F(ServeFile, ResumeRunsOnlyTheMissingCellsAndKeepsTheOthers) {
  ASSERT_NE(base_, nullptr);
  json partial = *base_;
  partial["cells"].erase(partial["cells"].begin() + 1);
  partial["complete"] = false;
  std::string path = write("partial.json", partial);
  WorkerRequest req;
  req.argv = {ALLOCLAB_BIN};
  for (auto& a : serve_args("nginx", "glibc,jemalloc", path)) req.argv.push_back(a);
  req.argv.push_back("--resume");
  req.env = {"TMPDIR=" + scratch_tmp(*dir_)};
  auto o = run_worker(req);
  ASSERT_TRUE(o.ok()) << o.describe();
  json after = test::read_json(path);
  EXPECT_EQ(after["complete"], true);
  ASSERT_EQ(after["cells"].size(), 2u);
  EXPECT_EQ(after["cells"][0].dump(), partial["cells"][0].dump()) << "a kept cell was redone";
  EXPECT_EQ(after["cells"][1]["id"], (*base_)["cells"][1]["id"]);
  // The missing cell offered the kept cell's fixed rate.
  EXPECT_EQ(after["cells"][1]["fixed"]["offered_rps"], partial["cells"][0]["fixed"]["offered_rps"]);
  EXPECT_EQ(after["context"], partial["context"]);
  // Other flags are another suite: refused, the file left as it was.
  std::string before = test::read_json(path).dump();
  auto other = test::alloclab({"serve", "--servers", "nginx", "-b", "glibc", "-o", path, "--resume"});
  EXPECT_EQ(other.exit_code, 2) << other.describe();
  EXPECT_NE(other.err.find("another configuration"), std::string::npos) << other.err;
  EXPECT_EQ(test::read_json(path).dump(), before);
}

TEST_F(ServeFile, MergeJoinsDisjointFilesAndExportWritesEveryCellsFigures) {
  ASSERT_NE(base_, nullptr);
  json a = *base_, b = *base_;
  a["cells"].erase(a["cells"].begin() + 1);
  b["cells"].erase(b["cells"].begin());
  a["complete"] = b["complete"] = false;
  std::string pa = write("a.json", a), pb = write("b.json", b), out = *dir_ / "merged.json";
  auto m = test::alloclab({"merge", "-o", out, "--force", pa, pb});
  ASSERT_TRUE(m.ok()) << m.describe();
  json merged = test::read_json(out);
  EXPECT_EQ(merged["complete"], true);
  EXPECT_EQ(merged["cells"], (*base_)["cells"]);
  EXPECT_EQ(merged["comparisons"], (*base_)["comparisons"]);
  auto twice = test::alloclab({"merge", "-o", *dir_ / "twice.json", pa, pa});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("is also in an earlier file"), std::string::npos) << twice.err;

  auto e = test::alloclab({"export", out, "--format", "csv"});
  ASSERT_TRUE(e.ok()) << e.describe();
  EXPECT_EQ(e.out.substr(0, e.out.find('\n')), "cell,server,allocator,rep,status,metric,value");
  for (const char* metric : {",peak_rps,", ",peak_cpu_ns_per_request,", ",fixed_p99_us,", ",vm_hwm_kib,"}) {
    for (const char* cell : {"nginx|glibc|r0,nginx,glibc,0,ok", "nginx|jemalloc|r0,nginx,jemalloc,0,ok"}) {
      EXPECT_NE(e.out.find(std::string(cell) + metric), std::string::npos) << cell << metric;
    }
  }
  auto g = test::alloclab({"export", out, "--format", "gbench"});
  EXPECT_EQ(g.exit_code, 2);
  EXPECT_NE(g.err.find("csv only"), std::string::npos) << g.err;
}

// Every reader of a server results file checks it whole: each defect is
// exit 2 and one line naming its JSON path, for export, merge and resume.
TEST_F(ServeFile, MalformedServerResultsAreExitTwoNamingTheirPath) {
  ASSERT_NE(base_, nullptr);
  struct Bad {
    std::string name, expect;
    std::function<void(json&)> edit;
  };
  std::vector<Bad> bad = {
      {"version", "version: serve results version 2", [](json& d) { d["version"] = 2; }},
      {"complete", "complete: a string, expected a boolean", [](json& d) { d["complete"] = "yes"; }},
      {"cells_object", "cells: an object, expected an array", [](json& d) { d["cells"] = json::object(); }},
      {"rps_negative", "cells[0].peak.rps: -1 is out of range", [](json& d) { d["cells"][0]["peak"]["rps"] = -1; }},
      {"rps_string", "cells[0].peak.rps: a string, expected a number", [](json& d) { d["cells"][0]["peak"]["rps"] = "fast"; }},
      {"no_peak", "cells[0]: missing key \"peak\"", [](json& d) { d["cells"][0].erase("peak"); }},
      {"id", "cells[0].id: \"x\" is not its coordinates", [](json& d) { d["cells"][0]["id"] = "x"; }},
      {"twice", "cells[1].id: \"nginx|glibc|r0\" appears twice", [](json& d) { d["cells"][1] = d["cells"][0]; }},
      {"rep", "cells[0].rep: 5 is out of range (0 to 0)", [](json& d) { d["cells"][0]["rep"] = 5; }},
      {"server", "config.servers[0]: unknown server 'lighttpd'", [](json& d) { d["config"]["servers"][0] = "lighttpd"; }},
      {"allocator", "cells[0].allocator: \"hoard\" is not in config.allocators", [](json& d) { d["cells"][0]["allocator"] = "hoard"; }},
      {"status", "cells[0].status: \"great\" is not ok or failed", [](json& d) { d["cells"][0]["status"] = "great"; }},
      {"series", "cells[0].memory.rss_series[0]: expected [ms, kib]", [](json& d) { d["cells"][0]["memory"]["rss_series"][0] = "x"; }},
      {"reps", "config.reps: 1.5 is not a whole number", [](json& d) { d["config"]["reps"] = 1.5; }},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.name);
    json doc = *base_;
    b.edit(doc);
    std::string path = write(b.name + ".json", doc);
    auto e = test::alloclab({"export", path, "--format", "csv"});
    EXPECT_EQ(e.exit_code, 2) << e.describe();
    EXPECT_NE(e.err.find(path + ": " + b.expect), std::string::npos) << e.err;
    EXPECT_EQ(std::count(e.err.begin(), e.err.end(), '\n'), 1) << e.err;
    auto m = test::alloclab({"merge", "-o", *dir_ / "m.json", "--force", write("ok.json", *base_), path});
    EXPECT_EQ(m.exit_code, 2) << m.describe();
    std::string before = doc.dump(1);
    auto r = test::alloclab({"serve", "--servers", "nginx", "-b", "glibc,jemalloc", "-r", "1", "-o", path, "--resume"});
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    std::ifstream in(path);
    std::stringstream now;
    now << in.rdbuf();
    EXPECT_EQ(now.str(), before) << "--resume changed a file it refused";
  }
  std::string truncated = *dir_ / "truncated.json";
  std::ofstream(truncated) << base_->dump().substr(0, 200);
  auto t = test::alloclab({"export", truncated, "--format", "csv"});
  EXPECT_EQ(t.exit_code, 2);
}

TEST(Serve, AMissingServerIsExitFourNamingItsPackage) {
  ScratchDir dir;
  WorkerRequest req;
  req.argv = {ALLOCLAB_BIN, "serve", "--servers", "nginx", "-o", dir / "s.json"};
  req.env = {"ALLOCLAB_SERVERS_ROOT=" + dir.path()};
  auto o = run_worker(req);
  EXPECT_EQ(o.exit_code, 4) << o.describe();
  EXPECT_NE(o.err.find("Debian package nginx-light"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(dir / "s.json"));
}

TEST(Serve, BadFlagsAreExitTwoInOneLine) {
  ScratchDir dir;
  for (std::vector<std::string> bad : {std::vector<std::string>{"--servers", "lighttpd"},
                                       {"--servers", "nginx,nginx"},
                                       {"--backends", "bump"},
                                       {"--server-cpus", "4095"},
                                       {"--servers", "nginx:retain=5"},
                                       {"--servers", "node:retain=0"},
                                       {"--servers", "node:heap=5"},
                                       {"--load-cpus", "x"},
                                       {"--peak", "0"},
                                       {"--rate-fraction", "2"}}) {
    std::vector<std::string> args = {"serve", "-o", dir / "s.json"};
    args.insert(args.end(), bad.begin(), bad.end());
    auto o = test::alloclab(args);
    EXPECT_EQ(o.exit_code, 2) << bad[0] << " " << bad[1] << ": " << o.describe();
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  }
  EXPECT_FALSE(fs::exists(dir / "s.json"));
}

}  // namespace
}  // namespace alloclab
