#include "harness/run/run_plan.hpp"

#include <algorithm>
#include <stdexcept>

#include "allocators/registry.hpp"
#include "workloads/rng.hpp"

namespace alloclab::run {

nlohmann::json RunConfig::to_json() const {
  nlohmann::json w = nlohmann::json::array();
  for (const auto& x : workloads) {
    nlohmann::json o = {{"name", x.name}};
    if (x.is_file()) {
      o["path"] = x.path;
      o["threads"] = x.file_threads;
    } else {
      o["model"] = x.model;
      o["requests"] = x.requests;
      if (!x.params.empty()) o["params"] = x.params;
      if (!x.backends.empty()) o["backends"] = x.backends;
      if (!x.threads.empty()) o["threads"] = x.threads;
      if (x.reps) o["reps"] = x.reps;
      if (x.age_bytes) o["age_bytes"] = x.age_bytes;
      if (x.idle_seconds > 0) o["idle_seconds"] = x.idle_seconds;
    }
    w.push_back(o);
  }
  nlohmann::json out = {{"suite", suite},       {"backends", backends},
          {"workloads", w},       {"threads", threads},
          {"reps", reps},         {"seed", seed},
          {"touch", touch},       {"sample_one_in", sample_one_in},
          {"timeout_seconds", timeout_seconds}, {"memory_limit_bytes", memory_limit_bytes},
          {"count", count},       {"scaling", scaling},
          {"pin", pin}};
  if (!experiment_backends.empty()) out["experiment_backends"] = experiment_backends;
  return out;
}

std::string RunConfig::problem() const {
  if (count != "time" && count != "instructions") return "count must be time or instructions, not '" + count + "'";
  if (scaling != "weak" && scaling != "strong") return "scaling must be weak or strong, not '" + scaling + "'";
  if (!counts_instructions()) return "";
  // Callgrind runs one thread at a time: with several, what a cell counts
  // would depend on how they interleave (how long a wait spins).
  const std::string one = "--count instructions replays one thread";
  for (auto t : threads)
    if (t != 1) return one + ": --threads " + std::to_string(t) + " is not allowed";
  for (const auto& w : workloads)
    if (w.is_file() && w.file_threads != 1)
      return one + ": " + w.path + " has " + std::to_string(w.file_threads) + " threads";
  if (memory_limit_bytes != 0)
    return "--count instructions runs without a memory limit (valgrind needs the address space): "
           "leave out --memory-limit";
  return "";
}

RunConfig RunConfig::from_json(const nlohmann::json& j) {
  RunConfig c;
  c.suite = j.at("suite").get<std::string>();
  c.backends = j.at("backends").get<std::vector<std::string>>();
  for (const auto& o : j.at("workloads")) {
    WorkloadSpec w;
    w.name = o.at("name").get<std::string>();
    if (o.contains("path")) {
      w.path = o.at("path").get<std::string>();
      w.file_threads = o.at("threads").get<std::uint32_t>();
    } else {
      w.model = o.at("model").get<std::string>();
      w.requests = o.at("requests").get<std::uint32_t>();
      if (o.contains("params")) w.params = o.at("params").get<std::map<std::string, std::string>>();
      if (o.contains("backends")) w.backends = o.at("backends").get<std::vector<std::string>>();
      if (o.contains("threads")) w.threads = o.at("threads").get<std::vector<std::uint32_t>>();
      if (o.contains("reps")) w.reps = o.at("reps").get<std::uint32_t>();
      w.age_bytes = o.value("age_bytes", std::uint64_t{0});
      w.idle_seconds = o.value("idle_seconds", 0.0);
    }
    c.workloads.push_back(std::move(w));
  }
  c.threads = j.at("threads").get<std::vector<std::uint32_t>>();
  c.reps = j.at("reps").get<std::uint32_t>();
  c.seed = j.at("seed").get<std::uint64_t>();
  c.touch = j.at("touch").get<std::string>();
  c.sample_one_in = j.at("sample_one_in").get<std::uint32_t>();
  c.timeout_seconds = j.at("timeout_seconds").get<double>();
  c.memory_limit_bytes = j.at("memory_limit_bytes").get<std::uint64_t>();
  c.count = j.value("count", "time");
  if (c.count != "time" && c.count != "instructions") throw std::invalid_argument("config.count: '" + c.count + "'");
  c.scaling = j.value("scaling", "strong");
  c.pin = j.value("pin", false);
  if (j.contains("experiment_backends")) c.experiment_backends = j.at("experiment_backends").get<std::vector<std::string>>();
  if (c.scaling != "weak" && c.scaling != "strong") throw std::invalid_argument("config.scaling: '" + c.scaling + "'");
  return c;
}

namespace {

// The claim experiments of the default suite (harness/report/claims.json
// names the claim each serves).
std::vector<Experiment> claim_experiments() {
  const std::vector<std::string> memory = {"null",       "glibc",      "jemalloc",   "mimalloc",
                                           "tcmalloc",   "pool@glibc", "slab@glibc", "bump@glibc"};
  const std::vector<std::string> scoped = {"null", "scoped@glibc", "bump@glibc", "nginx@glibc"};
  const std::vector<std::string> small = {"null", "glibc", "jemalloc", "mimalloc", "tcmalloc"};
  const std::vector<std::string> speed = {"null",     "glibc",      "jemalloc",   "mimalloc",    "tcmalloc",
                                          "pool@glibc", "bump@glibc", "scoped@glibc", "nginx@glibc"};
  return {
      // Memory at three live-heap sizes (about 2, 20 and 165 MiB with the
      // default 64 connections): the fit of overhead = fixed + proportional x live.
      {"http1-static:scale=2,connections=1024", memory, {1}},
      {"http1-static:scale=16,connections=8192", memory, {1}},
      // O(1) within a scope: n allocations of 64 B per request, n from 4 to
      // 16,384. At n=64 also the general allocators and pool: allocation
      // speed where every strategy serves every allocation itself.
      {"scope-sweep:n=4", scoped, {1}},
      {"scope-sweep:n=64", speed, {1}},
      {"scope-sweep:n=1024", scoped, {1}},
      {"scope-sweep:n=16384", scoped, {1}},
      // Small allocations only (16-256 B).
      {"small-objects", small, {1}},
      // RSS after the load falls, with time for clock-driven release: noon to
      // noon paced at 24 s a day (the trough 12 s after the peak), 24 s a cell.
      {"long-running:days=1,from=12,day_seconds=24", {"glibc", "jemalloc"}, {1}, 3},
      // What an idle keep-alive connection holds: 16,384 of them idle at once.
      {"idle-connections", {"null", "glibc", "nginx@glibc"}, {1}},
      // Memory per scope: 1,024 request scopes open at once, four 64 B allocations each.
      {"scope-sweep:n=4,open=1024", {"null", "scoped@glibc"}, {1}},
      // Isolation: one request in 16 allocates 1 MiB, over fixed-regions' 512 KiB region.
      {"scope-sweep:n=64,big_every=16", {"null", "fixed-regions@glibc"}, {1}},
      // LIFO against FIFO reuse where the order can matter: a daily cycle at
      // 16 times the connections (about 93 MiB live at the peak), so after
      // the peak each pool's free list holds far more than the 4 MiB L2.
      {"long-running:scale=16,connections=8192", {"null", "pool@glibc", "pool:order=fifo@glibc"}, {1}},
      // The general allocators on an aged heap (a 256 MiB churn first, one
      // block in 16 kept live): against the grid's fresh http1-static.
      {"http1-static:age=256", {"null", "glibc", "jemalloc", "mimalloc", "tcmalloc"}, {1}},
      // What an idle process keeps (about 8 MiB live at the peak): RSS for
      // 2 s after the replay, unforced; and with settings that release on
      // their own (jemalloc's background thread purging dirty pages after 1 s
      // instead of the default 10 s, mimalloc decommitting at once).
      {"http1-static:scale=4,idle=2",
       {"glibc", "jemalloc", "mimalloc", "tcmalloc", "jemalloc[background_thread=true,dirty_decay_ms=1000]",
        "mimalloc[decommit_delay=0]"},
       {1},
       3},
      // Allocator settings against their defaults at about 16 MiB live:
      // hugepages (glibc's hugetlb=1 and jemalloc's thp=always ask for
      // transparent huge pages by madvise, mimalloc's large_os_pages too),
      // immediate return of free pages, glibc on one arena that never trims.
      {"http1-static:scale=8",
       {"null", "glibc", "glibc[hugetlb=1]", "glibc[arena_max=1,trim_threshold=0]", "jemalloc", "jemalloc[thp=always]",
        "jemalloc[dirty_decay_ms=0,muzzy_decay_ms=0]", "mimalloc", "mimalloc[large_os_pages=true]",
        "mimalloc[decommit_delay=0]", "tcmalloc", "tcmalloc[aggressive_decommit=true]"},
       {1}},
  };
}

}  // namespace

const std::vector<Suite>& suites() {
  static const std::vector<Suite> all = {
      {"default", "every backend x the five models x threads 1,2 x 5 repetitions, and the claim experiments", 5,
       {1, 2}, 1, claim_experiments()},
      {"quick", "every backend x the five models (a quarter of their requests) x threads 1,2 x 1 repetition", 1,
       {1, 2}, 4},
      // The default suite's ledger at a quarter of the requests and three
      // repetitions: enough for intervals (the ledger's stability test).
      {"ledger", "the default suite at a quarter of the requests x 3 repetitions", 3, {1, 2}, 4,
       claim_experiments()},
      // For gating a change in CI: one thread (the least noisy), five
      // repetitions (the fewest for which a Mann-Whitney U test can reach
      // p < 0.05: 2/252), a quarter of the requests. About a minute here.
      {"ci", "every backend x the five models (a quarter of their requests) x 1 thread x 5 repetitions", 5, {1},
       4},
  };
  return all;
}

const Suite* find_suite(const std::string& name) {
  for (const auto& s : suites())
    if (name == s.name) return &s;
  return nullptr;
}

std::string suite_names() {
  std::string s;
  for (const auto& x : suites()) s += (s.empty() ? "" : ", ") + std::string(x.name);
  return s;
}

std::vector<std::string> default_backends() {
  std::vector<std::string> out = {"null"};
  std::vector<std::string> strategies;
  for_each_registration([&](const auto& reg) {
    if (reg.is_general()) out.emplace_back(reg.name);
    else strategies.push_back(std::string(reg.name) + "@glibc");
  });
  out.insert(out.end(), strategies.begin(), strategies.end());
  // Envoy's style (seeds/001: tcmalloc plus object pools), for the report's
  // Memory-Speed Tradeoff Matrix.
  out.emplace_back("pool@tcmalloc");
  return out;
}

bool WorkloadSpec::runs(const std::string& backend) const {
  return backends.empty() || std::find(backends.begin(), backends.end(), backend) != backends.end();
}

bool WorkloadSpec::runs(std::uint32_t thread_count) const {
  return threads.empty() || std::find(threads.begin(), threads.end(), thread_count) != threads.end();
}

std::string Cell::id() const {
  return backend + "|" + workload + "|t" + std::to_string(threads) + "|r" + std::to_string(rep);
}

std::vector<Cell> plan_cells(const RunConfig& config) {
  std::vector<Cell> cells;
  for (const auto& w : config.workloads) {
    std::vector<std::uint32_t> counts = w.is_file() ? std::vector<std::uint32_t>{w.file_threads} : config.threads;
    for (std::uint32_t t : counts) {
      if (!w.runs(t)) continue;
      for (const auto& b : config.backends) {
        if (!w.runs(b)) continue;
        if (w.backends.empty() &&
            std::find(config.experiment_backends.begin(), config.experiment_backends.end(), b) !=
                config.experiment_backends.end())
          continue;
        const std::uint32_t reps = w.reps ? std::min(w.reps, config.reps) : config.reps;
        for (std::uint32_t r = 0; r < reps; ++r) cells.push_back({b, w.name, t, r, 0});
      }
    }
  }
  // Fisher-Yates with the project's own generator: the same seed gives the
  // same order on every machine and standard library.
  trace::Rng rng(config.seed ^ 0x6a09e667f3bcc909ULL);
  for (std::size_t i = cells.size(); i > 1; --i) std::swap(cells[i - 1], cells[rng.between(0, i - 1)]);
  for (std::size_t i = 0; i < cells.size(); ++i) cells[i].order = static_cast<std::uint32_t>(i);
  return cells;
}

std::vector<Cell> shard_cells(const std::vector<Cell>& all, std::uint32_t k, std::uint32_t n) {
  std::vector<Cell> out;
  for (std::size_t i = k - 1; i < all.size(); i += n) out.push_back(all[i]);
  return out;
}

}  // namespace alloclab::run
