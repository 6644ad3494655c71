// Comparing two results files: a regression verdict per (backend, workload,
// threads) group, for CI jobs that must fail when allocation gets slower.
//
// A verdict needs both a significant difference and a large enough one:
// the repetitions of the two runs are compared with a two-sided
// Mann-Whitney U test (no assumption about how timings are distributed),
// and the change of the medians must exceed a threshold. Exact instruction
// counts repeat exactly, so for them the threshold alone decides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "harness/run/results.hpp"

namespace alloclab::run {

// The two files cannot be compared (bad input, exit status 2).
class CompareError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --- Mann-Whitney U ---------------------------------------------------------

enum class UMethod {
  automatic,  // exact when both samples together hold at most kExactLimit values
  exact,      // the permutation distribution of the rank sum, ties kept (midranks)
  normal,     // normal approximation, tie-corrected variance, continuity correction
};
inline constexpr std::size_t kExactLimit = 40;

struct UTest {
  double u = 0;   // U of x: pairs with x_i > y_j, ties counting one half
  double p = 1;   // two-sided
  bool exact = false;
};

// Two-sided test of x against y. Without ties the exact p-value is scipy's
// mannwhitneyu(method="exact"); with ties it is an exact permutation test
// of U (2 x the smaller tail); the normal approximation is scipy's
// mannwhitneyu(method="asymptotic"). An empty sample gives p = 1.
UTest mann_whitney(const std::vector<double>& x, const std::vector<double>& y,
                   UMethod method = UMethod::automatic);

// The smallest two-sided p any samples of n and m distinct values can give:
// complete separation, 2 / C(n+m, n) (1 when either is empty).
double smallest_p(std::size_t n, std::size_t m);

// --- comparing results -------------------------------------------------------

enum class Metric {
  ns_per_op,     // replay.allocator_seconds * 1e9 / replay.ops
  p99,           // replay.latency_ns.alloc.p99
  instructions,  // replay.instructions_per_op (exact counts: no test)
  peak_rss,      // replay.memory.peak_rss_bytes - baseline_rss_bytes
};
std::optional<Metric> parse_metric(std::string_view name);
const char* metric_name(Metric m);
const char* metric_unit(Metric m);  // "ns", "instructions", "bytes"
// Exact metrics repeat exactly: the threshold alone decides.
inline bool metric_is_exact(Metric m) { return m == Metric::instructions; }
double default_threshold_pct(Metric m);

struct CompareOptions {
  Metric metric = Metric::ns_per_op;
  double threshold_pct = 5;  // the change of the medians a verdict needs, in percent
  double alpha = 0.05;       // the p-value a verdict needs to be under
  // Both or neither: compare this backend in base with that one in next,
  // paired by workload and threads.
  std::string base_backend, new_backend;
  // How messages name the two files.
  std::string base_label = "BASE", new_label = "NEW";
};

enum class Verdict { regression, improvement, no_change };
const char* verdict_name(Verdict v);

struct GroupComparison {
  std::string base_backend, new_backend, workload;
  std::uint32_t threads = 0;
  std::vector<double> base_values, new_values;  // one per ok repetition
  double base_median = 0, new_median = 0;       // NaN for an empty side
  double change = 0;                            // new / base - 1; NaN when undefined
  std::optional<UTest> test;                    // none for exact metrics
  // The sample sizes cannot give p < alpha (or a side has no values): no
  // verdict was possible whatever the data.
  bool underpowered = false;
  Verdict verdict = Verdict::no_change;
};

struct Comparison {
  CompareOptions options;
  // Regressions first (largest change first), then improvements, then the rest.
  std::vector<GroupComparison> groups;
  // Why the files may not be comparable even so (other machine, build).
  std::vector<std::string> warnings;
  std::size_t count(Verdict v) const;
  std::size_t underpowered() const;
};

// Throws CompareError: options inconsistent, no groups in common, a
// workload name standing for different traces, the metric missing.
Comparison compare(const Results& base, const Results& next, const CompareOptions& options);

// The backends that have cells in r, sorted.
std::vector<std::string> backends_in(const Results& r);

}  // namespace alloclab::run
