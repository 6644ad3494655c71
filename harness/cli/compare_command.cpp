// alloclab compare BASE NEW: a regression verdict per (backend, workload,
// threads) group, as a table or JSON; exit status 1 when any group regressed.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "harness/cli/cli.hpp"
#include "harness/run/compare.hpp"

namespace alloclab::cli {

namespace {

using nlohmann::json;
constexpr int kExitRegression = 1;  // as diff and cmp: 1 means "they differ"

std::string text_of(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string value_text(double v, run::Metric m) {
  if (std::isnan(v)) return "-";
  if (m == run::Metric::peak_rss) {
    if (std::fabs(v) >= 1024.0 * 1024) return text_of("%.2f MiB", v / (1024.0 * 1024));
    if (std::fabs(v) >= 1024) return text_of("%.1f KiB", v / 1024);
    return text_of("%.0f B", v);
  }
  return text_of(m == run::Metric::instructions ? "%.1f" : "%.2f", v);
}

std::string change_text(double change) {
  if (std::isnan(change)) return "-";
  if (std::isinf(change)) return "+inf";
  return text_of("%+.1f%%", change * 100);
}

std::string p_text(const run::GroupComparison& g) {
  if (!g.test) return "exact";
  if (g.base_values.empty() || g.new_values.empty()) return "-";
  return g.test->p >= 0.001 ? text_of("%.3f", g.test->p) : text_of("%.1e", g.test->p);
}

std::string backend_text(const run::GroupComparison& g) {
  return g.base_backend == g.new_backend ? g.base_backend : g.base_backend + " -> " + g.new_backend;
}

std::string verdict_text(const run::GroupComparison& g) {
  std::string v = run::verdict_name(g.verdict);
  return g.underpowered ? v + " (underpowered)" : v;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string totals_line(const run::Comparison& c) {
  return plural(c.count(run::Verdict::regression), "regression", "regressions") + ", " +
         plural(c.count(run::Verdict::improvement), "improvement", "improvements") + ", " +
         std::to_string(c.count(run::Verdict::no_change)) + " no change in " +
         plural(c.groups.size(), "group", "groups") + " compared";
}

// Why some groups could not reach a verdict, and how many reps would do.
std::string underpowered_hint(const run::Comparison& c) {
  std::size_t n = c.underpowered();
  if (n == 0) return "";
  const run::GroupComparison* first = nullptr;
  for (const auto& g : c.groups)
    if (g.underpowered && (!first || g.base_values.size() + g.new_values.size() <
                                         first->base_values.size() + first->new_values.size()))
      first = &g;
  std::size_t need = 1;
  while (need < 1000 && !(run::smallest_p(need, need) < c.options.alpha)) ++need;
  std::string hint = plural(n, "group is", "groups are") + " underpowered: ";
  if (first->base_values.empty() || first->new_values.empty())
    hint += "a side has no ok repetitions with the metric";
  else
    hint += "with " + std::to_string(first->base_values.size()) + " vs " + std::to_string(first->new_values.size()) +
            " reps the smallest possible p is " + text_of("%.3g", run::smallest_p(first->base_values.size(),
                                                                                  first->new_values.size())) +
            ", not below alpha " + text_of("%g", c.options.alpha);
  return hint + "; nothing there can be significant (run with --reps " + std::to_string(need) + " or more)\n";
}

std::string table(const run::Comparison& c) {
  run::Metric m = c.options.metric;
  std::string unit = run::metric_unit(m);
  std::vector<std::vector<std::string>> rows = {{"BACKEND", "WORKLOAD", "THREADS", "N BASE/NEW", "BASE " + unit,
                                                 "NEW " + unit, "CHANGE", "P", "VERDICT"}};
  for (const auto& g : c.groups)
    rows.push_back({backend_text(g), g.workload, std::to_string(g.threads),
                    std::to_string(g.base_values.size()) + "/" + std::to_string(g.new_values.size()),
                    value_text(g.base_median, m), value_text(g.new_median, m), change_text(g.change), p_text(g),
                    verdict_text(g)});
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::string out = std::string(run::metric_name(m)) + ": " +
                    (run::metric_is_exact(m) ? "exact counts, decided by the threshold alone"
                                             : "two-sided Mann-Whitney U, alpha " + text_of("%g", c.options.alpha)) +
                    "; threshold " + text_of("%g", c.options.threshold_pct) + "%\n";
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      bool numeric = i >= 2 && i <= 7;  // right-aligned so that digits line up
      std::string pad(width[i] - r[i].size(), ' ');
      line += numeric ? pad + r[i] : r[i] + (i + 1 < r.size() ? pad : "");
      if (i + 1 < r.size()) line += "  ";
    }
    out += line + "\n";
  }
  return out + totals_line(c) + "\n" + underpowered_hint(c);
}

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json side_json(const std::string& file, const run::Results& r, const std::string& backend) {
  return {{"file", file},
          {"backend", backend.empty() ? json(nullptr) : json(backend)},
          {"cpu_model", r.context.value("cpu_model", json())},
          {"build", r.context.value("build", json())},
          {"sanitized", r.context.value("sanitized", json())},
          {"git_revision", r.context.value("git_revision", json())}};
}

// The --json document: format "alloclab-compare", version 1; the options,
// both files' context, totals, and per group (regressions first) the values
// of each repetition, medians, change_pct (new / base - 1, in percent), p
// (null for exact counts or an empty side), test ("mann-whitney-exact",
// "mann-whitney-normal" or "exact"), u (pairs with new > base, ties one
// half), smallest_p (what the sample sizes allow), underpowered, verdict.
json document(const run::Comparison& c, const json& base, const json& next) {
  json groups = json::array();
  for (const auto& g : c.groups) {
    json j = {{"base_backend", g.base_backend},
              {"new_backend", g.new_backend},
              {"workload", g.workload},
              {"threads", g.threads},
              {"n_base", g.base_values.size()},
              {"n_new", g.new_values.size()},
              {"base_values", g.base_values},
              {"new_values", g.new_values},
              {"base_median", number_or_null(g.base_median)},
              {"new_median", number_or_null(g.new_median)},
              {"change_pct", number_or_null(g.change * 100)},
              {"p", g.test && !g.base_values.empty() && !g.new_values.empty() ? json(g.test->p) : json(nullptr)},
              {"test", !g.test ? "exact" : g.test->exact ? "mann-whitney-exact" : "mann-whitney-normal"},
              {"smallest_p", g.test ? json(run::smallest_p(g.base_values.size(), g.new_values.size())) : json(nullptr)},
              {"underpowered", g.underpowered},
              {"verdict", run::verdict_name(g.verdict)}};
    if (g.test) j["u"] = g.test->u;
    groups.push_back(std::move(j));
  }
  return {{"format", "alloclab-compare"},
          {"version", 1},
          {"metric", run::metric_name(c.options.metric)},
          {"unit", run::metric_unit(c.options.metric)},
          {"threshold_pct", c.options.threshold_pct},
          {"alpha", c.options.alpha},
          {"base", base},
          {"new", next},
          {"warnings", c.warnings},
          {"totals",
           {{"regressions", c.count(run::Verdict::regression)},
            {"improvements", c.count(run::Verdict::improvement)},
            {"no_change", c.count(run::Verdict::no_change)},
            {"underpowered", c.underpowered()},
            {"compared", c.groups.size()}}},
          {"groups", groups}};
}

// The backend as the file names it: the spec as typed, or its canonical form
// ("bump" is "bump@glibc" in a results file).
std::string resolve_backend(const std::string& name, const run::Results& r, Context& ctx) {
  if (name.empty()) return name;
  auto names = run::backends_in(r);
  if (std::find(names.begin(), names.end(), name) != names.end()) return name;
  try {
    std::string canonical = parse_backend_spec(name, ctx.externals()).canonical();
    if (std::find(names.begin(), names.end(), canonical) != names.end()) return canonical;
  } catch (const SpecError&) {
    // Not a spec: compare() reports the name with the backends the file has.
  }
  return name;
}

}  // namespace

void add_compare_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("compare", "Compare two results files: a regression verdict per group");
  struct Args {
    std::string base, next, metric = "ns_per_op", base_backend, new_backend;
    double threshold = 0, alpha = 0.05;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("base", a->base, "Results file of the baseline")->required()->type_name("BASE.json");
  cmd->add_option("new", a->next, "Results file to judge against it")->required()->type_name("NEW.json");
  cmd->add_option("--metric", a->metric,
                  "ns_per_op: allocator time per op; p99: alloc latency p99; instructions: exact counts "
                  "(alloclab run --count instructions); peak_rss: peak RSS above the baseline")
      ->check(CLI::IsMember({"ns_per_op", "p99", "instructions", "peak_rss"}))
      ->capture_default_str();
  auto* threshold = cmd->add_option("--threshold", a->threshold,
                                    "Smallest change of the medians, in percent, that counts (default 5; 1 for "
                                    "instructions)")
                        ->type_name("PCT");
  cmd->add_option("--alpha", a->alpha, "Significance level of the Mann-Whitney U test")->capture_default_str();
  cmd->add_flag("--json", a->json, "Write a JSON document (format alloclab-compare) instead of the table");
  cmd->add_option("--base-backend", a->base_backend, "Compare this backend of BASE ...")->type_name("SPEC");
  cmd->add_option("--new-backend", a->new_backend, "... with this backend of NEW, paired by workload and threads")
      ->type_name("SPEC");
  cmd->footer(
      "Groups (backend x workload x threads) present in both files are compared over their ok repetitions.\n"
      "A group regressed when p < alpha and the median rose by more than the threshold; improved when\n"
      "p < alpha and it fell by more. Sample sizes whose smallest possible p is not below alpha (2 vs 2,\n"
      "3 vs 3) are flagged underpowered. Instruction counts are exact: the threshold alone decides.\n"
      "Exit status (as diff and cmp use them): 0 no group regressed, 1 some group regressed (an internal\n"
      "error is 1 too), 2 bad input (unreadable or malformed file, no groups in common, one workload name\n"
      "for different traces, the metric missing).");
  cmd->callback([&ctx, a, threshold] {
    ctx.action = [&ctx, a, threshold] {
      run::CompareOptions o;
      o.metric = *run::parse_metric(a->metric);
      o.threshold_pct = threshold->count() ? a->threshold : run::default_threshold_pct(o.metric);
      o.alpha = a->alpha;
      o.base_label = a->base;
      o.new_label = a->next;
      try {
        run::Results base = run::Results::read(a->base), next = run::Results::read(a->next);
        o.base_backend = resolve_backend(a->base_backend, base, ctx);
        o.new_backend = resolve_backend(a->new_backend, next, ctx);
        run::Comparison c = run::compare(base, next, o);
        for (const auto& w : c.warnings) std::cerr << "alloclab: warning: " << w << '\n';
        if (a->json)
          std::cout << document(c, side_json(a->base, base, o.base_backend), side_json(a->next, next, o.new_backend))
                           .dump(2)
                    << '\n';
        else
          std::cout << table(c);
        return c.count(run::Verdict::regression) > 0 ? kExitRegression : kExitOk;
      } catch (const run::ResultsError& e) {
        std::cerr << "alloclab: " << e.what() << '\n';
        return kExitBadInput;
      } catch (const run::CompareError& e) {
        std::cerr << "alloclab: " << e.what() << '\n';
        return kExitBadInput;
      }
    };
  });
}

}  // namespace alloclab::cli
