// alloclab compare: the Mann-Whitney U test against reference p-values, the
// verdicts and exit statuses on small hand-built results files, and end to
// end, that a run compared with itself is no regression while a slowed
// malloc is one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "harness/run/compare.hpp"
#include "harness/run/results.hpp"
#include "harness/tests/test_util.hpp"

namespace alloclab {
namespace {

using nlohmann::json;
using test::ScratchDir;
using test::read_json;
using run::mann_whitney;
using run::UMethod;
using Args = std::vector<std::string>;


// --- Mann-Whitney U -----------------------------------------------------------
//
// Reference values from scipy 1.10.1 (Debian python3-scipy):
//   scipy.stats.mannwhitneyu(x, y, method="exact")       exact, no ties
//   scipy.stats.permutation_test((x, y), U, permutation_type="independent",
//       n_resamples=np.inf, alternative="two-sided")     exact, ties
//     (U = mannwhitneyu(x, y).statistic; also checked by enumerating every
//     split with itertools.combinations)
//   scipy.stats.mannwhitneyu(x, y, method="asymptotic")  normal approximation
// U is x's statistic; p is two-sided.

struct Reference {
  const char* name;
  std::vector<double> x, y;
  double u, p;
};

TEST(MannWhitney, ExactWithoutTiesMatchesScipy) {
  const Reference refs[] = {
      {"separated 5 vs 5", {1.1, 2.3, 3.5, 4.7, 5.2}, {6.1, 7.3, 8.4, 9.9, 10.5}, 0, 0.007936507936507936},
      {"overlap 5 vs 6", {12, 15, 9, 20, 17}, {23, 11, 25, 19, 30, 28}, 5, 0.08225108225108226},
      {"overlap 3 vs 4", {3.2, 1.5, 4.8}, {2.2, 5.9, 6.3, 0.7}, 5, 0.8571428571428571},
      {"overlap 8 vs 7",
       {10.2, 8.8, 11.5, 9.9, 12.1, 7.4, 13.3, 10.8},
       {9.1, 11.0, 8.2, 7.7, 10.5, 6.9, 9.6},
       41,
       0.151981351981352},
  };
  for (const auto& r : refs) {
    SCOPED_TRACE(r.name);
    auto t = mann_whitney(r.x, r.y);
    EXPECT_TRUE(t.exact);
    EXPECT_DOUBLE_EQ(t.u, r.u);
    EXPECT_NEAR(t.p, r.p, 1e-12);
    // The test is symmetric: swapped samples give n*m - U and the same p.
    auto swapped = mann_whitney(r.y, r.x);
    EXPECT_DOUBLE_EQ(swapped.u, static_cast<double>(r.x.size() * r.y.size()) - r.u);
    EXPECT_NEAR(swapped.p, r.p, 1e-12);
  }
}

TEST(MannWhitney, ExactWithTiesMatchesAPermutationTest) {
  const Reference refs[] = {
      {"ties 5 vs 5", {1, 2, 2, 3, 3}, {3, 4, 4, 5, 2}, 4, 0.1111111111111111},
      // p99 values as a run writes them: histogram buckets, often equal.
      {"ties 4 vs 6", {231, 247, 247, 255}, {255, 303, 319, 247, 319, 351}, 2.5, 0.06666666666666667},
      {"all equal", {5, 5, 5}, {5, 5, 5}, 4.5, 1.0},
  };
  for (const auto& r : refs) {
    SCOPED_TRACE(r.name);
    auto t = mann_whitney(r.x, r.y);
    EXPECT_TRUE(t.exact);
    EXPECT_DOUBLE_EQ(t.u, r.u);
    EXPECT_NEAR(t.p, r.p, 1e-12);
  }
}

TEST(MannWhitney, LargerSamplesUseTheTieCorrectedNormalApproximation) {
  const Reference refs[] = {
      {"20 vs 25, no ties",
       {100.0, 103.0, 97.3, 91.1, 95.5, 90.1, 100.6, 113.4, 95.1, 93.8,
        104.9, 103.6, 101.1, 90.7, 99.7, 107.0, 86.6, 95.4, 81.0, 87.1},
       {89.6, 105.6, 95.3, 110.7, 109.6, 106.1, 82.8, 102.6, 107.5, 109.1, 92.7, 103.2, 98.2,
        99.9, 118.6, 99.9, 107.7, 116.8, 102.2, 106.9, 109.1, 108.6, 95.7, 108.8, 121.6},
       125,
       0.004455555678343068},
      {"12 vs 15, many ties",
       {1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5},
       {2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 8, 8},
       30.5,
       0.0036281427703294894},
  };
  for (const auto& r : refs) {
    SCOPED_TRACE(r.name);
    auto t = mann_whitney(r.x, r.y, UMethod::normal);
    EXPECT_FALSE(t.exact);
    EXPECT_DOUBLE_EQ(t.u, r.u);
    EXPECT_NEAR(t.p, r.p, 1e-12);
  }
  // 45 values: beyond the exact limit, so the automatic choice is the normal one.
  auto t = mann_whitney(refs[0].x, refs[0].y);
  EXPECT_FALSE(t.exact);
  EXPECT_NEAR(t.p, refs[0].p, 1e-12);
  // 27 values: exact, and close to the approximation.
  auto e = mann_whitney(refs[1].x, refs[1].y);
  EXPECT_TRUE(e.exact);
  EXPECT_NEAR(e.p, refs[1].p, 0.002);
}

TEST(MannWhitney, SmallestPossiblePIsThatOfCompleteSeparation) {
  EXPECT_DOUBLE_EQ(run::smallest_p(2, 2), 2.0 / 6);
  EXPECT_DOUBLE_EQ(run::smallest_p(3, 3), 2.0 / 20);
  EXPECT_DOUBLE_EQ(run::smallest_p(5, 5), 2.0 / 252);
  EXPECT_DOUBLE_EQ(run::smallest_p(1, 1), 1.0);
  EXPECT_DOUBLE_EQ(run::smallest_p(0, 5), 1.0);
  EXPECT_NEAR(mann_whitney({1, 2, 3, 4}, {5, 6, 7}).p, run::smallest_p(4, 3), 1e-15);
  EXPECT_DOUBLE_EQ(mann_whitney({}, {1, 2}).p, 1.0);
}

// --- hand-built results files ---------------------------------------------------

constexpr double kOps = 1000;

// A group's repetitions: each value v is its ns per op; p99 is 10 v, peak RSS
// growth 1000 v bytes and, when asked, v instructions per op.
struct Group {
  std::string backend, workload = "http1-static";
  int threads = 1;
  std::vector<double> values;
  bool instructions = false;
};

json cell(const Group& g, int rep, double v) {
  json replay = {{"ops", kOps},
                 {"allocator_seconds", v * kOps / 1e9},
                 {"ops_by_class", {{"alloc", kOps / 2}}},
                 {"mean_ns", {{"alloc", v}}},
                 {"latency_ns", {{"alloc", {{"count", 50}, {"p99", 10 * v}}}}},
                 {"memory", {{"baseline_rss_bytes", 1e6}, {"peak_rss_bytes", 1e6 + 1000 * v}}}};
  if (g.instructions) replay["instructions_per_op"] = v;
  std::string id = g.backend + "|" + g.workload + "|t" + std::to_string(g.threads) + "|r" + std::to_string(rep);
  return {{"id", id},         {"backend", g.backend}, {"workload", g.workload}, {"threads", g.threads},
          {"rep", rep},       {"order", rep},         {"status", "ok"},         {"replay", replay}};
}

// Writes a results file holding the groups; `trace_ops` is what the file
// says its http1-static trace holds.
std::string write_results(const std::string& path, const std::vector<Group>& groups, std::uint64_t trace_ops = 5000,
                          const std::string& cpu = "Test CPU") {
  run::Results r;
  r.context = {{"cpu_model", cpu}, {"build", "release"}, {"sanitized", false}, {"cores", 2}};
  r.config = {{"reps", 5}};
  for (const auto& g : groups) {
    r.workloads[g.workload + "/t" + std::to_string(g.threads)] = {{"ops", trace_ops}, {"bytes_allocated", 123456}};
    for (std::size_t i = 0; i < g.values.size(); ++i) r.add(cell(g, static_cast<int>(i), g.values[i]));
  }
  r.total_cells = r.shard_cells = r.cells.size();
  r.write(path);
  return path;
}

const std::vector<double> kBase = {20.0, 21.0, 19.5, 20.5, 20.2};
const std::vector<double> kSlower = {30.0, 31.5, 29.0, 30.5, 32.0};  // +49%, fully separated
const std::vector<double> kFaster = {10.0, 10.5, 9.5, 10.2, 9.8};

WorkerOutcome compare(const std::string& a, const std::string& b, Args extra = {}) {
  Args args = {"compare", a, b};
  args.insert(args.end(), extra.begin(), extra.end());
  return test::alloclab(args);
}

json compare_json(const std::string& a, const std::string& b, Args extra, int want_exit) {
  extra.push_back("--json");
  auto o = compare(a, b, extra);
  EXPECT_EQ(o.status, WorkerOutcome::Status::exited) << o.describe();
  EXPECT_EQ(o.exit_code, want_exit) << o.err;
  json doc = json::parse(o.out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << o.out;
  return doc.is_discarded() ? json::object() : doc;
}

using test::expect_bad_input;

TEST(Compare, IdenticalFilesAreNoChange) {
  ScratchDir dir;
  std::string a =
      write_results(dir / "a.json", {{"glibc", "http1-static", 1, kBase}, {"jemalloc", "http-api", 2, kSlower}});
  auto o = compare(a, a);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out.find("regression\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("0 regressions, 0 improvements, 2 no change in 2 groups compared"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("+0.0%"), std::string::npos) << o.out;
}

TEST(Compare, AClearSlowdownIsARegressionListedFirstAndExitsOne) {
  ScratchDir dir;
  std::string a = write_results(dir / "a.json", {{"glibc", "http1-static", 1, kBase},
                                                 {"glibc", "http-api", 1, kBase},
                                                 {"mimalloc", "http1-static", 1, kBase},
                                                 {"tcmalloc", "http1-static", 1, kBase}});
  std::string b = write_results(dir / "b.json", {{"glibc", "http1-static", 1, kBase},
                                                 {"glibc", "http-api", 1, kFaster},
                                                 {"mimalloc", "http1-static", 1, kSlower},
                                                 {"jemalloc", "http1-static", 1, kBase}});
  auto o = compare(a, b);
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.out.find("1 regression, 1 improvement, 1 no change in 3 groups compared"), std::string::npos) << o.out;
  auto reg = o.out.find("regression\n"), imp = o.out.find("improvement\n"), none = o.out.find("no change\n");
  ASSERT_NE(reg, std::string::npos) << o.out;
  EXPECT_LT(reg, imp) << o.out;
  EXPECT_LT(imp, none) << o.out;

  json doc = compare_json(a, b, {}, 1);
  EXPECT_EQ(doc["format"], "alloclab-compare");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["metric"], "ns_per_op");
  EXPECT_EQ(doc["threshold_pct"], 5.0);
  EXPECT_EQ(doc["alpha"], 0.05);
  EXPECT_EQ(doc["totals"], json({{"regressions", 1}, {"improvements", 1}, {"no_change", 1}, {"underpowered", 0},
                                 {"compared", 3}}));
  ASSERT_EQ(doc["groups"].size(), 3u);
  const json& g = doc["groups"][0];
  EXPECT_EQ(g["verdict"], "regression");
  EXPECT_EQ(g["base_backend"], "mimalloc");
  EXPECT_EQ(g["n_base"], 5);
  EXPECT_EQ(g["n_new"], 5);
  EXPECT_NEAR(g["base_median"].get<double>(), 20.2, 1e-9);
  EXPECT_NEAR(g["new_median"].get<double>(), 30.5, 1e-9);
  EXPECT_NEAR(g["change_pct"].get<double>(), (30.5 / 20.2 - 1) * 100, 1e-6);
  EXPECT_NEAR(g["p"].get<double>(), 2.0 / 252, 1e-12);
  EXPECT_EQ(g["test"], "mann-whitney-exact");
  EXPECT_EQ(doc["groups"][1]["verdict"], "improvement");
  EXPECT_EQ(doc["groups"][1]["workload"], "http-api");
  EXPECT_EQ(doc["groups"][2]["verdict"], "no change");
}

TEST(Compare, ASignificantChangeBelowTheThresholdIsNoChange) {
  ScratchDir dir;
  // +3%, fully separated: p = 2/252.
  std::string a = write_results(dir / "a.json", {{"glibc", "http1-static", 1, {100, 100.5, 101, 101.5, 102}}});
  std::string b = write_results(dir / "b.json", {{"glibc", "http1-static", 1, {103, 103.5, 104, 104.5, 105}}});
  json doc = compare_json(a, b, {}, 0);
  EXPECT_EQ(doc["groups"][0]["verdict"], "no change");
  EXPECT_LT(doc["groups"][0]["p"].get<double>(), 0.05);
  EXPECT_EQ(compare_json(a, b, {"--threshold", "2"}, 1)["groups"][0]["verdict"], "regression");
  // Large but not significant at a stricter alpha.
  EXPECT_EQ(compare_json(a, b, {"--threshold", "2", "--alpha", "0.005"}, 0)["groups"][0]["verdict"], "no change");
}

TEST(Compare, TooFewRepsAreFlaggedUnderpowered) {
  ScratchDir dir;
  std::string a = write_results(dir / "a.json", {{"glibc", "http1-static", 1, {20, 21}}});
  std::string b = write_results(dir / "b.json", {{"glibc", "http1-static", 1, {200, 210}}});
  auto o = compare(a, b);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("no change (underpowered)"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("with 2 vs 2 reps the smallest possible p is 0.333"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("--reps 4"), std::string::npos) << o.out;
  json doc = compare_json(a, b, {}, 0);
  EXPECT_TRUE(doc["groups"][0]["underpowered"].get<bool>());
  EXPECT_EQ(doc["groups"][0]["verdict"], "no change");
  EXPECT_EQ(doc["totals"]["underpowered"], 1);
}

TEST(Compare, EveryMetricReadsItsOwnFigure) {
  ScratchDir dir;
  Group base{"glibc", "http1-static", 1, kBase, true}, slower{"glibc", "http1-static", 1, kSlower, true};
  std::string a = write_results(dir / "a.json", {base}), b = write_results(dir / "b.json", {slower});
  const std::pair<const char*, double> scale[] = {
      {"ns_per_op", 1}, {"p99", 10}, {"peak_rss", 1000}, {"instructions", 1}};
  for (const auto& [metric, k] : scale) {
    SCOPED_TRACE(metric);
    json doc = compare_json(a, b, {"--metric", metric}, 1);
    EXPECT_EQ(doc["metric"], metric);
    EXPECT_NEAR(doc["groups"][0]["base_median"].get<double>(), 20.2 * k, 1e-9 * k);
    EXPECT_NEAR(doc["groups"][0]["new_median"].get<double>(), 30.5 * k, 1e-9 * k);
  }
}

TEST(Compare, InstructionCountsAreDecidedByTheThresholdAlone) {
  ScratchDir dir;
  // +1.5% on exact counts, one repetition each: no test could be significant.
  std::string a = write_results(dir / "a.json", {{"glibc", "http1-static", 1, {1000}, true}});
  std::string b = write_results(dir / "b.json", {{"glibc", "http1-static", 1, {1015}, true}});
  json doc = compare_json(a, b, {"--metric", "instructions"}, 1);
  EXPECT_EQ(doc["threshold_pct"], 1.0);
  const json& g = doc["groups"][0];
  EXPECT_EQ(g["verdict"], "regression");
  EXPECT_TRUE(g["p"].is_null());
  EXPECT_EQ(g["test"], "exact");
  EXPECT_FALSE(g["underpowered"].get<bool>());
  EXPECT_EQ(compare_json(a, b, {"--metric", "instructions", "--threshold", "2"}, 0)["groups"][0]["verdict"],
            "no change");
  auto o = compare(a, b, {"--metric", "instructions"});
  EXPECT_NE(o.out.find("exact"), std::string::npos) << o.out;
}

TEST(Compare, MissingInstructionCountsAreBadInputNamingTheFlag) {
  ScratchDir dir;
  std::string a = write_results(dir / "a.json", {{"glibc", "http1-static", 1, kBase}});
  std::string b = write_results(dir / "b.json", {{"glibc", "http1-static", 1, kBase, true}});
  expect_bad_input(compare(a, b, {"--metric", "instructions"}), "--count instructions");
}

TEST(Compare, OneBackendOfEachFileCanBeCompared) {
  ScratchDir dir;
  std::string a =
      write_results(dir / "a.json", {{"glibc", "http1-static", 1, kBase}, {"slow", "http1-static", 1, kBase}});
  std::string b =
      write_results(dir / "b.json", {{"glibc", "http1-static", 1, kBase}, {"slow", "http1-static", 1, kSlower}});
  json doc = compare_json(a, b, {"--base-backend", "glibc", "--new-backend", "slow"}, 1);
  ASSERT_EQ(doc["groups"].size(), 1u);
  EXPECT_EQ(doc["groups"][0]["base_backend"], "glibc");
  EXPECT_EQ(doc["groups"][0]["new_backend"], "slow");
  EXPECT_EQ(doc["base"]["backend"], "glibc");
  EXPECT_EQ(doc["groups"][0]["verdict"], "regression");
  auto o = compare(a, b, {"--base-backend", "glibc", "--new-backend", "slow"});
  EXPECT_NE(o.out.find("glibc -> slow"), std::string::npos) << o.out;
  expect_bad_input(compare(a, b, {"--base-backend", "glibc"}), "give both or neither");
  expect_bad_input(compare(a, b, {"--base-backend", "glibc", "--new-backend", "tcmalloc"}), "it has: glibc, slow");
}

TEST(Compare, FilesThatCannotBeComparedAreBadInput) {
  ScratchDir dir;
  std::string a = write_results(dir / "a.json", {{"glibc", "http1-static", 1, kBase}});
  std::string other = write_results(dir / "other.json", {{"jemalloc", "http1-static", 1, kBase}});
  expect_bad_input(compare(a, other), "no (backend, workload, threads) group is in both");

  std::string longer = write_results(dir / "longer.json", {{"glibc", "http1-static", 1, kBase}}, 9000);
  expect_bad_input(compare(a, longer), "workload http1-static/t1 stands for different traces: ops is 5000");

  json doc = json::parse(std::ifstream(a));
  doc["format"] = "google-benchmark";
  std::ofstream(dir / "foreign.json") << doc.dump();
  expect_bad_input(compare(a, dir / "foreign.json"), "not an alloclab results file");
  doc["format"] = "alloclab-results";
  doc["version"] = 2;
  std::ofstream(dir / "v2.json") << doc.dump();
  expect_bad_input(compare(dir / "v2.json", a), "results version 2");
  std::ofstream(dir / "cut.json") << doc.dump().substr(0, 100);
  expect_bad_input(compare(a, dir / "cut.json"), "not JSON");
  expect_bad_input(compare(a, dir / "absent.json"), "cannot open");
  expect_bad_input(compare(a, a, {"--alpha", "1.5"}), "--alpha");
}

TEST(Compare, ResultsFromAnotherMachineAreComparedWithAWarning) {
  ScratchDir dir;
  std::string a = write_results(dir / "a.json", {{"glibc", "http1-static", 1, kBase}});
  std::string b = write_results(dir / "b.json", {{"glibc", "http1-static", 1, kSlower}}, 5000, "Other CPU");
  auto o = compare(a, b);
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.err.find("warning: the files come from different machines"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("Other CPU"), std::string::npos) << o.err;
  EXPECT_EQ(compare_json(a, b, {}, 1)["warnings"].size(), 1u);
}

// --- end to end -------------------------------------------------------------------

// 2000 requests: five repetitions take ~0.4 s under glibc, ~1 s under the slowed malloc.
Args small_run(const std::string& backend, const std::string& out) {
  return {"run",       "-q",    "--backends", backend, "--workloads", "http1-static", "--threads", "1",
          "--reps",    "5",     "--requests", "2000",  "-o",          out};
}

void print_figures(const json& doc) {
  for (const auto& g : doc["groups"])
    std::cout << "  " << g["base_backend"].get<std::string>() << " -> " << g["new_backend"].get<std::string>()
              << ": median " << g["base_median"] << " -> " << g["new_median"] << " ns/op, change "
              << g["change_pct"] << "%, p " << g["p"] << ", " << g["verdict"].get<std::string>() << '\n';
}

// At alpha 0.05 two runs of one distribution give a false regression 1.6%
// of the time (5 vs 5 reps), and load from other processes on a small
// machine shifts whole runs: preemption inside a timed batch of ~3 ms can
// double a repetition's figure. A real regression repeats; noise does not.
// So the pair is run again when a regression shows, up to three times, and
// the test fails only when every attempt reports one.
TEST(CompareEndToEnd, ARunComparedWithTheSameRunAgainIsNoRegression) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  bool regressed = true;
  for (int attempt = 1; attempt <= 3 && regressed; ++attempt) {
    std::string n = std::to_string(attempt);
    std::string a = dir / (n + "-a.json"), b = dir / (n + "-b.json");
    auto first = test::alloclab(small_run("glibc", a));
    ASSERT_TRUE(first.ok()) << first.describe();
    auto second = test::alloclab(small_run("glibc", b));
    ASSERT_TRUE(second.ok()) << second.describe();
    auto o = compare(a, b, {"--json"});
    ASSERT_TRUE(o.exit_code == 0 || o.exit_code == 1) << o.describe();
    json doc = json::parse(o.out);
    std::cout << "  attempt " << attempt << ":\n";
    print_figures(doc);
    ASSERT_EQ(doc["groups"].size(), 1u);
    EXPECT_EQ(doc["groups"][0]["n_base"], 5);
    EXPECT_EQ(doc["groups"][0]["n_new"], 5);
    regressed = doc["groups"][0]["verdict"] == "regression";
    EXPECT_EQ(o.exit_code, regressed ? 1 : 0);
  }
  EXPECT_FALSE(regressed) << "three runs of the same settings each compared as a regression";
}

TEST(CompareEndToEnd, ASlowedMallocIsARegressionAgainstGlibc) {
  SKIP_IF_SANITIZED();
  ScratchDir dir;
  std::string slow = std::string("preload:") + FIXTURE_SLOW;
  auto base = test::alloclab(small_run("glibc", dir / "glibc.json"));
  ASSERT_TRUE(base.ok()) << base.describe();
  auto next = test::alloclab(small_run(slow, dir / "slow.json"));
  ASSERT_TRUE(next.ok()) << next.describe();
  json doc = compare_json(dir / "glibc.json", dir / "slow.json", {"--base-backend", "glibc", "--new-backend", slow}, 1);
  print_figures(doc);
  ASSERT_EQ(doc["groups"].size(), 1u);
  const json& g = doc["groups"][0];
  EXPECT_EQ(g["verdict"], "regression");
  EXPECT_GT(g["change_pct"].get<double>(), 100);
  EXPECT_LT(g["p"].get<double>(), 0.05);
}

}  // namespace
}  // namespace alloclab
