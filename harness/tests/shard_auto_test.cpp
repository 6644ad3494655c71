// --shard auto: the slice from the variables of the engine that started the
// run (harness/run/shard_auto.hpp). For Slurm job arrays, Kubernetes Indexed
// Jobs and GNU parallel, every index of a three-way split runs the real
// binary with that engine's variables; the slices must hold every cell of the
// whole run exactly once, equal the --shard K/3 slices, and merge into the
// whole run. A missing, doubled, non-numeric, out-of-range or disagreeing
// variable is exit 2 with one line naming it.
//
// A plan of four null-backend cells of 10 requests: each run takes a
// fraction of a second, also under the sanitizers.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "harness/run/shard_auto.hpp"
#include "harness/tests/test_util.hpp"

namespace alloclab {
namespace {

using nlohmann::json;
using test::read_json;
using test::ScratchDir;
namespace fs = std::filesystem;
using Args = std::vector<std::string>;
using Env = std::vector<std::string>;  // NAME=value, as WorkerRequest::env

const char* const kEngineVariables[] = {"SLURM_ARRAY_TASK_ID",  "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                                        "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP",  "JOB_COMPLETION_INDEX",
                                        "PARALLEL_SEQ"};

// The tests themselves may run inside a Slurm job or a GNU parallel job:
// the runs they start must see only the variables a test sets.
class ShardAuto : public testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kEngineVariables) ::unsetenv(v);
  }
};

WorkerOutcome alloclab_with(const Env& env, const Args& args) {
  WorkerRequest req;
  req.argv = {ALLOCLAB_BIN};
  req.argv.insert(req.argv.end(), args.begin(), args.end());
  req.env = env;
  req.timeout = std::chrono::seconds(120);
  return run_worker(req);
}

Args small_run(const std::string& out, const std::string& shard) {
  return {"run",       "-q", "--backends", "null", "--workloads", "http1-static", "--requests", "10",
          "--threads", "1",  "--reps",     "4",    "-o",          out,            "--shard",    shard};
}

std::vector<std::string> cell_ids(const json& doc) {
  std::vector<std::string> ids;
  for (const auto& c : doc["cells"]) ids.push_back(c["id"].get<std::string>());
  return ids;
}

void expect_bad_input(const WorkerOutcome& o, const std::vector<std::string>& needles) {
  EXPECT_EQ(o.status, WorkerOutcome::Status::exited) << o.describe();
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.err.rfind("alloclab: ", 0), 0u) << o.err;
  for (const auto& n : needles) EXPECT_NE(o.err.find(n), std::string::npos) << "wanted '" << n << "' in: " << o.err;
}

// One engine's three slices: `env_for(i)` is the environment of the i-th of
// three jobs (i = 0, 1, 2), which must run slice i + 1 of 3 under
// `--shard shard`. They must partition the whole run, equal the K/3 slices,
// and merge into the whole run.
void expect_partition(const std::string& shard, const std::function<Env(int)>& env_for) {
  ScratchDir dir;
  ASSERT_TRUE(test::alloclab(small_run(dir / "whole.json", "1/1")).ok());
  std::vector<std::string> whole = cell_ids(read_json(dir / "whole.json"));
  ASSERT_EQ(whole.size(), 4u);

  std::multiset<std::string> seen;
  Args merge = {"merge", "-o", dir / "merged.json"};
  for (int i = 0; i < 3; ++i) {
    std::string out = dir / ("auto-" + std::to_string(i) + ".json");
    auto o = alloclab_with(env_for(i), small_run(out, shard));
    ASSERT_TRUE(o.ok()) << "job " << i << ": " << o.describe();
    json doc = read_json(out);
    EXPECT_EQ(doc["shard"], (json{{"index", i + 1}, {"count", 3}})) << "job " << i;
    EXPECT_EQ(doc["total_cells"], 4);
    auto ids = cell_ids(doc);
    seen.insert(ids.begin(), ids.end());
    merge.push_back(out);

    std::string explicit_out = dir / ("k-" + std::to_string(i) + ".json");
    ASSERT_TRUE(test::alloclab(small_run(explicit_out, std::to_string(i + 1) + "/3")).ok());
    EXPECT_EQ(ids, cell_ids(read_json(explicit_out))) << "job " << i << " is not slice " << i + 1 << "/3";
  }
  EXPECT_EQ(seen, std::multiset<std::string>(whole.begin(), whole.end())) << "every cell exactly once";

  auto m = test::alloclab(merge);
  ASSERT_TRUE(m.ok()) << m.describe();
  json merged = read_json(dir / "merged.json");
  auto merged_ids = cell_ids(merged);
  EXPECT_EQ(std::set<std::string>(merged_ids.begin(), merged_ids.end()),
            std::set<std::string>(whole.begin(), whole.end()));
  EXPECT_EQ(merged["cells_done"], 4);
  EXPECT_EQ(merged["shard"], (json{{"index", 1}, {"count", 1}}));
}

TEST_F(ShardAuto, SlurmArrayFromZeroPartitionsTheRun) {
  // sbatch --array=0-2: the count comes from Slurm, --shard auto alone.
  expect_partition("auto", [](int i) {
    return Env{"SLURM_ARRAY_TASK_ID=" + std::to_string(i), "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=0",
               "SLURM_ARRAY_TASK_MAX=2"};
  });
}

TEST_F(ShardAuto, SlurmArrayFromOneWithAStepPartitionsTheRun) {
  // sbatch --array=1-5:2 (ids 1, 3, 5), the count also given: it agrees.
  expect_partition("auto/3", [](int i) {
    return Env{"SLURM_ARRAY_TASK_ID=" + std::to_string(1 + 2 * i), "SLURM_ARRAY_TASK_COUNT=3",
               "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=5", "SLURM_ARRAY_TASK_STEP=2"};
  });
}

TEST_F(ShardAuto, KubernetesIndexedJobPartitionsTheRun) {
  expect_partition("auto/3", [](int i) { return Env{"JOB_COMPLETION_INDEX=" + std::to_string(i)}; });

  // The dry run says where the slice came from.
  ScratchDir dir;
  Args dry = small_run(dir / "r.json", "auto/3");
  dry.push_back("--dry-run");
  auto o = alloclab_with({"JOB_COMPLETION_INDEX=1"}, dry);
  ASSERT_TRUE(o.ok()) << o.describe();
  EXPECT_NE(o.out.find("shard 2/3 from Kubernetes JOB_COMPLETION_INDEX=1\n"), std::string::npos) << o.out;
  EXPECT_FALSE(fs::exists(dir / "r.json"));
}

TEST_F(ShardAuto, GnuParallelPartitionsTheRunAndResumes) {
  expect_partition("auto/3", [](int i) { return Env{"PARALLEL_SEQ=" + std::to_string(i + 1)}; });

  // A rerun of one job (parallel --retries, a requeued array task) resumes
  // its own slice; an explicit K/N ignores the engine.
  ScratchDir dir;
  std::string out = dir / "s.json";
  ASSERT_TRUE(alloclab_with({"PARALLEL_SEQ=2"}, small_run(out, "auto/3")).ok());
  const json first = read_json(out);
  Args resume = small_run(out, "auto/3");
  resume.push_back("--resume");
  auto r = alloclab_with({"PARALLEL_SEQ=2"}, resume);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(read_json(out)["cells"], first["cells"]);
  ASSERT_TRUE(alloclab_with({"PARALLEL_SEQ=2"}, small_run(dir / "k.json", "3/3")).ok());
  EXPECT_EQ(read_json(dir / "k.json")["shard"], (json{{"index", 3}, {"count", 3}}));
}

struct BadCase {
  Env env;
  std::string shard;
  std::vector<std::string> needles;
};

void expect_refused(const std::vector<BadCase>& cases) {
  ScratchDir dir;
  std::string out = dir / "r.json";
  for (const auto& c : cases) {
    SCOPED_TRACE("--shard " + c.shard + " with " + testing::PrintToString(c.env));
    expect_bad_input(alloclab_with(c.env, small_run(out, c.shard)), c.needles);
    EXPECT_FALSE(fs::exists(out));
  }
}

TEST_F(ShardAuto, NoEngineIsExit2NamingTheVariables) {
  expect_refused({
      {{}, "auto", {"--shard auto: none of SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "PARALLEL_SEQ"}},
      {{}, "auto/3", {"--shard auto/3: none of SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "PARALLEL_SEQ"}},
      // Set but empty is unset.
      {{"PARALLEL_SEQ="}, "auto/3", {"none of SLURM_ARRAY_TASK_ID"}},
  });
}

TEST_F(ShardAuto, TwoEnginesAreExit2NamingBoth) {
  expect_refused({
      {{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1", "PARALLEL_SEQ=2"},
       "auto/3",
       {"SLURM_ARRAY_TASK_ID=1 and PARALLEL_SEQ=2 are both set"}},
      {{"JOB_COMPLETION_INDEX=0", "PARALLEL_SEQ=1"}, "auto/3", {"JOB_COMPLETION_INDEX=0 and PARALLEL_SEQ=1"}},
      {{"SLURM_ARRAY_TASK_ID=1", "JOB_COMPLETION_INDEX=0", "PARALLEL_SEQ=1"},
       "auto/3",
       {"SLURM_ARRAY_TASK_ID=1, JOB_COMPLETION_INDEX=0 and PARALLEL_SEQ=1 are all set"}},
  });
}

TEST_F(ShardAuto, IndexOutOfRangeIsExit2NamingIt) {
  expect_refused({
      {{"JOB_COMPLETION_INDEX=3"}, "auto/3", {"JOB_COMPLETION_INDEX=3 is out of range: 0..2"}},
      {{"PARALLEL_SEQ=0"}, "auto/3", {"PARALLEL_SEQ=0 is out of range: 1..3"}},
      {{"PARALLEL_SEQ=4"}, "auto/3", {"PARALLEL_SEQ=4 is out of range: 1..3"}},
      {{"SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=3"},
       "auto",
       {"SLURM_ARRAY_TASK_ID=4 is out of range"}},
      {{"SLURM_ARRAY_TASK_ID=0", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1"},
       "auto",
       {"SLURM_ARRAY_TASK_ID=0 is out of range"}},
      // Between the ids of --array=1-5:2.
      {{"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_STEP=2"},
       "auto",
       {"SLURM_ARRAY_TASK_ID=2 is out of range"}},
  });
}

TEST_F(ShardAuto, NonNumericIsExit2NamingTheValue) {
  expect_refused({
      {{"JOB_COMPLETION_INDEX=abc"}, "auto/3", {"JOB_COMPLETION_INDEX='abc' is not a whole number"}},
      {{"PARALLEL_SEQ=-1"}, "auto/3", {"PARALLEL_SEQ='-1' is not a whole number"}},
      {{"PARALLEL_SEQ=99999999999"}, "auto/3", {"PARALLEL_SEQ='99999999999' is not a whole number"}},
      {{"SLURM_ARRAY_TASK_ID=1 ", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1"},
       "auto",
       {"SLURM_ARRAY_TASK_ID='1 ' is not a whole number"}},
      {{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=three", "SLURM_ARRAY_TASK_MIN=1"},
       "auto",
       {"SLURM_ARRAY_TASK_COUNT='three'"}},
      // A newline in the value stays out of the one line.
      {{"JOB_COMPLETION_INDEX=1\n2"}, "auto/3", {"JOB_COMPLETION_INDEX='1?2'"}},
      {{}, "auto/0", {"--shard: 'auto/0' is not K/N"}},
      {{}, "auto/x", {"--shard: 'auto/x' is not K/N"}},
      {{}, "autox", {"--shard: 'autox' is not K/N"}},
  });
}

TEST_F(ShardAuto, MissingOrDisagreeingCountIsExit2NamingTheVariable) {
  expect_refused({
      {{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=4", "SLURM_ARRAY_TASK_MIN=1"},
       "auto/3",
       {"SLURM_ARRAY_TASK_COUNT=4 disagrees with the count 3"}},
      {{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_MIN=1"}, "auto", {"SLURM_ARRAY_TASK_COUNT is not set"}},
      {{"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=3"}, "auto", {"SLURM_ARRAY_TASK_MIN is not set"}},
      // --array=1,2,9: three ids, not evenly spaced.
      {{"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=9"},
       "auto",
       {"SLURM_ARRAY_TASK_MAX=9 is not the last id"}},
      {{"JOB_COMPLETION_INDEX=1"}, "auto", {"JOB_COMPLETION_INDEX=1 gives no count"}},
      {{"PARALLEL_SEQ=1"}, "auto", {"PARALLEL_SEQ=1 gives no count"}},
  });
}

// The mapping itself, without processes: Slurm's ids onto 1..N.
TEST(ShardAutoResolve, SlurmIdsMapOntoOneToN) {
  auto from = [](std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  auto slice = [&](std::map<std::string, std::string> vars, std::uint32_t n = 0) {
    auto s = run::resolve_shard_auto(n, from(std::move(vars)));
    return std::to_string(s.index) + "/" + std::to_string(s.count);
  };
  using V = std::map<std::string, std::string>;
  // --array=0-7, 1-8, 10-24:2 (ids 10..24, 8 of them)
  EXPECT_EQ(slice(V{{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "8"}, {"SLURM_ARRAY_TASK_MIN", "0"}}),
            "1/8");
  EXPECT_EQ(slice(V{{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_COUNT", "8"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                    {"SLURM_ARRAY_TASK_MAX", "8"}}),
            "8/8");
  EXPECT_EQ(slice(V{{"SLURM_ARRAY_TASK_ID", "14"}, {"SLURM_ARRAY_TASK_COUNT", "8"}, {"SLURM_ARRAY_TASK_MIN", "10"},
                    {"SLURM_ARRAY_TASK_MAX", "24"}, {"SLURM_ARRAY_TASK_STEP", "2"}}),
            "3/8");
  // No count variable: the one given.
  EXPECT_EQ(slice(V{{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_MIN", "0"}}, 4), "3/4");
  EXPECT_EQ(run::resolve_shard_auto(4, from(V{{"JOB_COMPLETION_INDEX", "3"}})).source,
            "Kubernetes JOB_COMPLETION_INDEX=3");
  EXPECT_EQ(run::parse_shard("2/5", from(V{{"PARALLEL_SEQ", "1"}})).index, 2u);
  EXPECT_THROW(run::parse_shard("0/5"), run::ShardError);
  EXPECT_THROW(slice(V{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "3"}, {"SLURM_ARRAY_TASK_MIN", "0"},
                       {"SLURM_ARRAY_TASK_STEP", "0"}}),
               run::ShardError);
}

}  // namespace
}  // namespace alloclab
