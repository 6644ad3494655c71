#include "harness/run/results.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "harness/run/results_check.hpp"
#include "workloads/atomic_file.hpp"
#include "workloads/regular_file.hpp"

namespace alloclab::run {

using nlohmann::json;

namespace {

void put(std::map<std::string, double>& m, const std::string& key, const json& v) {
  if (v.is_number()) m[key] = v.get<double>();
}

// The figures a summary spreads over repetitions, by flat name.
std::map<std::string, double> extract_metrics(const json& r) {
  std::map<std::string, double> m;
  put(m, "ops", r.value("ops", json()));
  put(m, "ops_per_second", r.value("ops_per_second", json()));
  put(m, "wall_seconds", r.value("wall_seconds", json()));
  put(m, "allocator_seconds", r.value("allocator_seconds", json()));
  put(m, "failed_allocations", r.value("failed_allocations", json()));
  put(m, "instructions", r.value("instructions", json()));
  put(m, "instructions_per_op", r.value("instructions_per_op", json()));
  // A counted cell (--count instructions) has its ops by class, no times.
  if (r.contains("ops_by_class") && r.contains("mean_ns") && r.contains("latency_ns")) {
    for (const auto& [cls, n] : r["ops_by_class"].items()) {
      if (!n.is_number() || n.get<double>() == 0) continue;
      put(m, cls + "_mean_ns", r["mean_ns"].value(cls, json()));
      const json& h = r["latency_ns"].value(cls, json::object());
      if (h.value("count", 0) == 0) continue;
      for (const char* q : {"p50", "p90", "p99", "p999", "max"}) put(m, cls + "_" + q + "_ns", h.value(q, json()));
    }
  }
  if (r.contains("request_ns") && r["request_ns"].value("count", 0) > 0)
    for (const char* q : {"p50", "p90", "p99", "p999", "max"}) put(m, std::string("request_") + q + "_ns", r["request_ns"].value(q, json()));
  if (r.contains("memory")) {
    const json& mem = r["memory"];
    put(m, "peak_rss_bytes", mem.value("peak_rss_bytes", json()));
    put(m, "floor_rss_bytes", mem.value("floor_rss_bytes", json()));
    put(m, "end_rss_bytes", mem.value("end_rss_bytes", json()));
    double base = mem.value("baseline_rss_bytes", 0.0), peak = mem.value("peak_rss_bytes", 0.0);
    if (peak > 0) m["peak_rss_growth_bytes"] = std::max(0.0, peak - base);
  }
  if (r.contains("fragmentation") && r["fragmentation"].is_object())
    for (const auto& [k, v] : r["fragmentation"].items()) put(m, k, v);
  if (r.contains("clock")) {
    put(m, "timer_overhead_ns", r["clock"].value("overhead_ns", json()));
    put(m, "timer_resolution_ns", r["clock"].value("resolution_ns", json()));
  }
  return m;
}

}  // namespace

CellRecord make_record(const json& cell) {
  CellRecord c;
  c.id = cell.at("id").get<std::string>();
  c.backend = cell.at("backend").get<std::string>();
  c.workload = cell.at("workload").get<std::string>();
  c.threads = cell.at("threads").get<std::uint32_t>();
  c.rep = cell.at("rep").get<std::uint32_t>();
  c.order = cell.value("order", 0u);
  c.machine = cell.value("machine", 0u);
  c.status = cell.at("status").get<std::string>();
  if (c.status == "ok" && cell.contains("replay")) c.metrics = extract_metrics(cell["replay"]);
  c.text = cell.dump();
  return c;
}

bool Results::has(const std::string& id) const {
  return std::any_of(cells.begin(), cells.end(), [&](const CellRecord& c) { return c.id == id; });
}

void Results::add(const json& cell) { cells.push_back(make_record(cell)); }

std::uint64_t Results::failed() const {
  return static_cast<std::uint64_t>(
      std::count_if(cells.begin(), cells.end(), [](const CellRecord& c) { return c.status == "failed"; }));
}

std::string Results::serialize() const {
  json failures = json::array();
  std::uint64_t ok = 0, unsupported = 0;
  for (const auto& c : cells) {
    if (c.status == "ok") ++ok;
    if (c.status == "unsupported") ++unsupported;
    if (c.status != "failed") continue;
    json cell = json::parse(c.text);
    failures.push_back({{"id", c.id}, {"failure", cell.value("failure", json::object())}});
  }
  std::vector<unsigned> cores = {context.value("cores", 0u)};
  if (context.contains("other_machines") && context["other_machines"].is_array())
    for (const auto& m : context["other_machines"]) cores.push_back(m.is_object() ? m.value("cores", 0u) : 0u);
  json head = {
      {"format", kResultsFormat},
      {"version", kResultsVersion},
      {"context", context},
      {"config", config},
      {"shard", {{"index", shard_index}, {"count", shard_count}}},
      {"total_cells", total_cells},
      {"shard_cells", shard_cells},
      {"cells_done", cells.size()},
      {"cells_ok", ok},
      {"cells_unsupported", unsupported},
      {"cells_failed", failures.size()},
      {"workloads", workloads},
      {"summaries", summaries(cells)},
      {"scaling", scaling(cells, cores)},
      {"failures", failures},
  };
  if (!merged_from.empty()) head["merged_from"] = merged_from;
  std::string out = head.dump();
  out.pop_back();  // the closing brace: the cells follow
  out += ",\"cells\":[";
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) out += ",\n";
    out += cells[i].text;
  }
  out += "]}\n";
  return out;
}

void Results::write(const std::string& path) const { write_atomically(path, serialize()); }

namespace {

// The most a results file may hold: a default suite writes about 30 MB, a
// merged many-machine file a few hundred; more is not a file alloclab wrote,
// and reading it whole would exhaust memory first.
constexpr std::uint64_t kMaxResultsBytes = std::uint64_t{2} << 30;

std::string read_bounded(const std::string& path) {
  try {
    return read_regular_file(path, kMaxResultsBytes, "a results file holds (2 GiB)");
  } catch (const RegularFileError& e) {
    throw ResultsError(path + ": " + e.what());
  }
}

}  // namespace

Results Results::read(const std::string& path) { return parse(read_bounded(path), path); }

Results Results::parse(std::string_view text, const std::string& path) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw ResultsError(path + ": not JSON (a truncated or foreign file?)");
  if (!doc.is_object() || !doc.contains("format") || doc["format"] != kResultsFormat)
    throw ResultsError(path + ": not an alloclab results file (format is not \"" + kResultsFormat + "\")");
  try {
    check_results_shape(doc);
  } catch (const ResultsError& e) {
    throw ResultsError(path + ": " + e.what());
  }
  // The shape is checked: what follows cannot meet a wrong type.
  Results r;
  r.context = doc.at("context");
  r.config = doc.at("config");
  // Files from before config.count counted time: read so, they compare
  // equal to a timed run's configuration (--resume, merge).
  if (!r.config.contains("count")) r.config["count"] = "time";
  // Files from before config.scaling ran thread sweeps strong.
  if (!r.config.contains("scaling")) r.config["scaling"] = "strong";
  if (!r.config.contains("pin")) r.config["pin"] = false;
  r.workloads = doc.value("workloads", json::object());
  r.shard_index = doc.at("shard").at("index").get<std::uint32_t>();
  r.shard_count = doc.at("shard").at("count").get<std::uint32_t>();
  r.total_cells = doc.at("total_cells").get<std::uint64_t>();
  r.shard_cells = doc.at("shard_cells").get<std::uint64_t>();
  if (doc.contains("merged_from")) r.merged_from = doc["merged_from"].get<std::vector<std::string>>();
  for (const auto& cell : doc.at("cells")) r.cells.push_back(make_record(cell));
  return r;
}

Spread spread(std::vector<double> v) {
  Spread s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    double pos = q * static_cast<double>(v.size() - 1);
    std::size_t lo = static_cast<std::size_t>(pos);
    std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
  };
  s.median = at(0.5);
  s.q1 = at(0.25);
  s.q3 = at(0.75);
  s.min = v.front();
  s.max = v.back();
  return s;
}

namespace {

struct GroupKey {
  std::string backend, workload;
  std::uint32_t threads;
  std::uint32_t machine;
  auto operator<=>(const GroupKey&) const = default;
};

}  // namespace

json summaries(const std::vector<CellRecord>& cells) {
  std::map<GroupKey, std::vector<const CellRecord*>> groups;
  for (const auto& c : cells) groups[{c.backend, c.workload, c.threads, c.machine}].push_back(&c);
  json out = json::array();
  for (const auto& [key, members] : groups) {
    std::map<std::string, std::vector<double>> values;
    json status = {{"ok", 0}, {"unsupported", 0}, {"failed", 0}};
    for (const CellRecord* c : members) {
      status[c->status] = status.value(c->status, 0) + 1;
      for (const auto& [name, v] : c->metrics) values[name].push_back(v);
    }
    json metrics = json::object();
    for (auto& [name, v] : values) {
      Spread s = spread(v);
      metrics[name] = {{"n", s.n}, {"median", s.median}, {"q1", s.q1}, {"q3", s.q3}, {"iqr", s.iqr()},
                       {"min", s.min}, {"max", s.max}};
    }
    json entry = {{"backend", key.backend}, {"workload", key.workload}, {"threads", key.threads},
                  {"cells", status}, {"metrics", metrics}};
    if (key.machine) entry["machine"] = key.machine;
    out.push_back(std::move(entry));
  }
  return out;
}

json scaling(const std::vector<CellRecord>& cells, const std::vector<unsigned>& machine_cores) {
  struct Point {
    std::vector<double> ops_per_second, ns_per_op;
  };
  std::map<std::tuple<std::uint32_t, std::string, std::string>, std::map<std::uint32_t, Point>> by;
  for (const auto& c : cells) {
    auto tp = c.metrics.find("ops_per_second");
    if (c.status != "ok" || tp == c.metrics.end()) continue;
    Point& p = by[{c.machine, c.backend, c.workload}][c.threads];
    p.ops_per_second.push_back(tp->second);
    auto secs = c.metrics.find("allocator_seconds"), ops = c.metrics.find("ops");
    if (secs != c.metrics.end() && ops != c.metrics.end() && ops->second > 0)
      p.ns_per_op.push_back(secs->second * 1e9 / ops->second);
  }
  json out = json::array();
  for (const auto& [key, per_threads] : by) {
    const auto& [machine, backend, workload] = key;
    const unsigned cores = machine < machine_cores.size() ? machine_cores[machine] : 0;
    auto one = per_threads.find(1);
    double base = one != per_threads.end() ? spread(one->second.ops_per_second).median : 0;
    double base_ns = one != per_threads.end() && !one->second.ns_per_op.empty() ? spread(one->second.ns_per_op).median : 0;
    json points = json::array();
    for (const auto& [t, v] : per_threads) {
      double median = spread(v.ops_per_second).median;
      json p = {{"threads", t}, {"ops_per_second", median}, {"oversubscribed", cores && t > cores}};
      if (base > 0) {
        p["speedup"] = median / base;
        p["efficiency"] = median / base / t;
      } else {
        p["speedup"] = nullptr;
        p["efficiency"] = nullptr;
      }
      if (!v.ns_per_op.empty()) {
        double ns = spread(v.ns_per_op).median;
        p["ns_per_op"] = ns;
        if (base_ns > 0) p["ns_per_op_growth"] = ns / base_ns;
        else p["ns_per_op_growth"] = nullptr;
      }
      points.push_back(p);
    }
    json entry = {{"backend", backend}, {"workload", workload}, {"points", points}};
    if (machine) entry["machine"] = machine;
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace alloclab::run
