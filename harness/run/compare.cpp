#include "harness/run/compare.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

namespace alloclab::run {

using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Midranks of the pooled samples, doubled so that every rank is an integer
// (a tie over ranks a+1..a+t shares a + (t+1)/2). Also returns the tie
// term sum(t^3 - t) over the groups of equal values.
struct Ranks {
  std::vector<long> doubled;  // x's first, then y's
  double tie_term = 0;
};

Ranks doubled_midranks(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> pooled(x);
  pooled.insert(pooled.end(), y.begin(), y.end());
  std::vector<std::size_t> order(pooled.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pooled[a] < pooled[b]; });
  Ranks r;
  r.doubled.resize(pooled.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && pooled[order[j]] == pooled[order[i]]) ++j;
    long t = static_cast<long>(j - i);
    for (std::size_t k = i; k < j; ++k) r.doubled[order[k]] = 2 * static_cast<long>(i) + t + 1;
    r.tie_term += static_cast<double>(t * t * t - t);
    i = j;
  }
  return r;
}

// Exact permutation distribution of x's doubled rank sum: of all C(N, n)
// ways to pick which pooled values are x's, how many give each sum.
// Counts stay below C(40, 20) ~ 1.4e11 at the default limit: exact in a double.
double exact_p(const Ranks& r, std::size_t n, long observed) {
  std::size_t total = r.doubled.size();
  long max_sum = std::accumulate(r.doubled.begin(), r.doubled.end(), 0L);
  std::vector<std::vector<double>> ways(n + 1, std::vector<double>(static_cast<std::size_t>(max_sum) + 1, 0.0));
  ways[0][0] = 1;
  for (std::size_t e = 0; e < total; ++e) {
    long w = r.doubled[e];
    for (std::size_t k = std::min(n, e + 1); k >= 1; --k)
      for (long s = max_sum; s >= w; --s) ways[k][s] += ways[k - 1][s - w];
  }
  double all = 0, at_most = 0, at_least = 0;
  for (long s = 0; s <= max_sum; ++s) {
    double c = ways[n][s];
    all += c;
    if (s <= observed) at_most += c;
    if (s >= observed) at_least += c;
  }
  return std::min(1.0, 2 * std::min(at_most, at_least) / all);
}

double normal_p(const Ranks& r, double u, double n, double m) {
  double total = n + m;
  double mean = n * m / 2;
  double var = n * m / 12 * ((total + 1) - r.tie_term / (total * (total - 1)));
  if (!(var > 0)) return 1;  // every value equal: no evidence either way
  // The larger of U and n*m - U, less one half for continuity: the upper tail.
  double z = (std::max(u, n * m - u) - mean - 0.5) / std::sqrt(var);
  return std::clamp(std::erfc(z / std::sqrt(2.0)), 0.0, 1.0);
}

}  // namespace

UTest mann_whitney(const std::vector<double>& x, const std::vector<double>& y, UMethod method) {
  UTest t;
  if (x.empty() || y.empty()) return t;
  Ranks r = doubled_midranks(x, y);
  long doubled_sum = std::accumulate(r.doubled.begin(), r.doubled.begin() + static_cast<long>(x.size()), 0L);
  double n = static_cast<double>(x.size()), m = static_cast<double>(y.size());
  t.u = static_cast<double>(doubled_sum) / 2 - n * (n + 1) / 2;
  t.exact = method == UMethod::exact || (method == UMethod::automatic && x.size() + y.size() <= kExactLimit);
  t.p = t.exact ? exact_p(r, x.size(), doubled_sum) : normal_p(r, t.u, n, m);
  return t;
}

double smallest_p(std::size_t n, std::size_t m) {
  if (n == 0 || m == 0) return 1;
  double ways = 1;  // C(n+m, n), built up without overflowing
  for (std::size_t i = 1; i <= std::min(n, m); ++i)
    ways = ways * static_cast<double>(std::max(n, m) + i) / static_cast<double>(i);
  return std::min(1.0, 2 / ways);
}

std::optional<Metric> parse_metric(std::string_view name) {
  for (Metric m : {Metric::ns_per_op, Metric::p99, Metric::instructions, Metric::peak_rss})
    if (name == metric_name(m)) return m;
  return std::nullopt;
}

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::ns_per_op: return "ns_per_op";
    case Metric::p99: return "p99";
    case Metric::instructions: return "instructions";
    case Metric::peak_rss: return "peak_rss";
  }
  return "?";
}

const char* metric_unit(Metric m) {
  switch (m) {
    case Metric::ns_per_op:
    case Metric::p99: return "ns";
    case Metric::instructions: return "instructions";
    case Metric::peak_rss: return "bytes";
  }
  return "?";
}

double default_threshold_pct(Metric m) { return metric_is_exact(m) ? 1 : 5; }

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::regression: return "regression";
    case Verdict::improvement: return "improvement";
    case Verdict::no_change: return "no change";
  }
  return "?";
}

std::size_t Comparison::count(Verdict v) const {
  return static_cast<std::size_t>(
      std::count_if(groups.begin(), groups.end(), [v](const GroupComparison& g) { return g.verdict == v; }));
}

std::size_t Comparison::underpowered() const {
  return static_cast<std::size_t>(
      std::count_if(groups.begin(), groups.end(), [](const GroupComparison& g) { return g.underpowered; }));
}

std::vector<std::string> backends_in(const Results& r) {
  std::set<std::string> names;
  for (const auto& c : r.cells) names.insert(c.backend);
  return {names.begin(), names.end()};
}

namespace {

// A cell's value of the metric, if it has one.
std::optional<double> cell_value(const CellRecord& c, Metric metric) {
  auto get = [&](const char* key) -> std::optional<double> {
    auto it = c.metrics.find(key);
    if (it == c.metrics.end()) return std::nullopt;
    return it->second;
  };
  switch (metric) {
    case Metric::ns_per_op: {
      auto seconds = get("allocator_seconds"), ops = get("ops");
      if (!seconds || !ops || *ops <= 0) return std::nullopt;
      return *seconds * 1e9 / *ops;
    }
    case Metric::p99: return get("alloc_p99_ns");
    // Peak less baseline; absent when the kernel refused the peak's reset.
    case Metric::peak_rss: return get("peak_rss_growth_bytes");
    case Metric::instructions: {
      // Not among the summaries' figures: read from the cell itself.
      json cell = json::parse(c.text, nullptr, false);
      if (cell.is_discarded()) return std::nullopt;
      const json& v = cell.value("replay", json::object()).value("instructions_per_op", json());
      if (!v.is_number()) return std::nullopt;
      return v.get<double>();
    }
  }
  return std::nullopt;
}

using Key = std::tuple<std::string, std::string, std::uint32_t>;  // backend, workload, threads

// Every group with cells (even none ok) and its values of the metric.
std::map<Key, std::vector<double>> group_values(const Results& r, Metric metric) {
  std::map<Key, std::vector<double>> out;
  for (const auto& c : r.cells) {
    auto& v = out[{c.backend, c.workload, c.threads}];
    if (c.status != "ok") continue;
    if (auto x = cell_value(c, metric)) v.push_back(*x);
  }
  return out;
}

std::size_t ok_cells(const Results& r, const Key& k) {
  return static_cast<std::size_t>(std::count_if(r.cells.begin(), r.cells.end(), [&](const CellRecord& c) {
    return c.status == "ok" && Key{c.backend, c.workload, c.threads} == k;
  }));
}

double median(std::vector<double> v) { return v.empty() ? kNaN : spread(std::move(v)).median; }

std::string context_text(const json& context, const char* key) {
  const json& v = context.value(key, json());
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::vector<std::string> context_warnings(const Results& base, const Results& next, const CompareOptions& o) {
  std::vector<std::string> out;
  const std::pair<const char*, const char*> keys[] = {
      {"cpu_model", "machines"}, {"build", "builds"}, {"sanitized", "builds (sanitizers)"}};
  for (const auto& [key, what] : keys) {
    std::string a = context_text(base.context, key), b = context_text(next.context, key);
    if (a != b)
      out.push_back(std::string("the files come from different ") + what + ": context." + key + " is " + a + " in " +
                    o.base_label + ", " + b + " in " + o.new_label + "; timings may not be comparable");
  }
  return out;
}

// The same workload name must stand for the same trace in both files.
void check_same_trace(const Results& base, const Results& next, const std::string& workload, std::uint32_t threads,
                      const CompareOptions& o) {
  std::string key = workload + "/t" + std::to_string(threads);
  const json& a = base.workloads.value(key, json());
  const json& b = next.workloads.value(key, json());
  if (!a.is_object() || !b.is_object()) return;  // nothing recorded to check against
  for (const char* field : {"ops", "bytes_allocated"}) {
    if (a.value(field, json()) != b.value(field, json()))
      throw CompareError("workload " + key + " stands for different traces: " + field + " is " +
                         a.value(field, json()).dump() + " in " + o.base_label + " but " +
                         b.value(field, json()).dump() + " in " + o.new_label +
                         " (run both with the same --requests, --seed and traces)");
  }
}

void check_backend_present(const Results& r, const std::string& backend, const std::string& label) {
  auto names = backends_in(r);
  if (std::find(names.begin(), names.end(), backend) != names.end()) return;
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw CompareError(label + " has no cells of backend " + backend + " (it has: " + (list.empty() ? "none" : list) +
                     ")");
}

Verdict decide(const GroupComparison& g, const CompareOptions& o) {
  if (g.underpowered || std::isnan(g.change)) return Verdict::no_change;
  bool significant = !g.test || g.test->p < o.alpha;
  double threshold = o.threshold_pct / 100;
  if (significant && g.change > threshold) return Verdict::regression;
  if (significant && g.change < -threshold) return Verdict::improvement;
  return Verdict::no_change;
}

GroupComparison compare_group(std::string base_backend, std::string new_backend, std::string workload,
                              std::uint32_t threads, std::vector<double> a, std::vector<double> b,
                              const CompareOptions& o) {
  GroupComparison g;
  g.base_backend = std::move(base_backend);
  g.new_backend = std::move(new_backend);
  g.workload = std::move(workload);
  g.threads = threads;
  g.base_median = median(a);
  g.new_median = median(b);
  if (g.base_median != 0) g.change = g.new_median / g.base_median - 1;
  else if (g.new_median == 0) g.change = 0;
  else g.change = g.new_median > 0 ? std::numeric_limits<double>::infinity() : kNaN;
  if (metric_is_exact(o.metric)) {
    g.underpowered = a.empty() || b.empty();
  } else {
    g.test = mann_whitney(b, a);  // U counts new > base: large U means slower
    g.underpowered = !(smallest_p(a.size(), b.size()) < o.alpha);
  }
  g.base_values = std::move(a);
  g.new_values = std::move(b);
  g.verdict = decide(g, o);
  return g;
}

int verdict_rank(Verdict v) { return v == Verdict::regression ? 0 : v == Verdict::improvement ? 1 : 2; }

}  // namespace

Comparison compare(const Results& base, const Results& next, const CompareOptions& options) {
  const CompareOptions& o = options;
  if (o.base_backend.empty() != o.new_backend.empty())
    throw CompareError("--base-backend and --new-backend go together: give both or neither");
  if (!(o.alpha > 0 && o.alpha < 1)) throw CompareError("--alpha must be between 0 and 1");
  if (!(o.threshold_pct >= 0)) throw CompareError("--threshold must be a percentage of at least 0");
  bool cross = !o.base_backend.empty();
  if (cross) {
    check_backend_present(base, o.base_backend, o.base_label);
    check_backend_present(next, o.new_backend, o.new_label);
  }

  Comparison out;
  out.options = o;
  out.warnings = context_warnings(base, next, o);
  auto a = group_values(base, o.metric), b = group_values(next, o.metric);
  struct Pair {
    Key base_key, new_key;
  };
  std::vector<Pair> pairs;
  for (const auto& [key, values] : a) {
    const auto& [backend, workload, threads] = key;
    if (cross && backend != o.base_backend) continue;
    Key other{cross ? o.new_backend : backend, workload, threads};
    if (b.count(other)) pairs.push_back({key, other});
  }
  if (pairs.empty())
    throw CompareError("no (backend, workload, threads) group is in both " + o.base_label + " and " + o.new_label +
                       (cross ? " for backends " + o.base_backend + " and " + o.new_backend : std::string()));

  std::size_t ok_a = 0, ok_b = 0, with_a = 0, with_b = 0;
  for (const auto& p : pairs) {
    check_same_trace(base, next, std::get<1>(p.base_key), std::get<2>(p.base_key), o);
    ok_a += ok_cells(base, p.base_key);
    ok_b += ok_cells(next, p.new_key);
    with_a += a[p.base_key].size();
    with_b += b[p.new_key].size();
  }
  // Ok cells without the figure at all: a file from before the metric existed.
  for (const auto& [ok, with, label] :
       {std::tuple{ok_a, with_a, o.base_label}, std::tuple{ok_b, with_b, o.new_label}}) {
    if (ok == 0 || with > 0) continue;
    if (o.metric == Metric::instructions)
      throw CompareError(label + " has no instruction counts (replay.instructions_per_op): run alloclab run with "
                         "--count instructions to record them");
    throw CompareError(label + " has no " + metric_name(o.metric) +
                       " figures in its ok cells (an older results file?)");
  }

  for (const auto& p : pairs)
    out.groups.push_back(compare_group(std::get<0>(p.base_key), std::get<0>(p.new_key), std::get<1>(p.base_key),
                                       std::get<2>(p.base_key), a[p.base_key], b[p.new_key], o));
  std::stable_sort(out.groups.begin(), out.groups.end(), [](const GroupComparison& x, const GroupComparison& y) {
    if (verdict_rank(x.verdict) != verdict_rank(y.verdict)) return verdict_rank(x.verdict) < verdict_rank(y.verdict);
    if (x.verdict == Verdict::regression) return x.change > y.change;
    if (x.verdict == Verdict::improvement) return x.change < y.change;
    return false;
  });
  return out;
}

}  // namespace alloclab::run
