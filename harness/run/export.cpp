#include "harness/run/export.hpp"

#include <cstdio>
#include <map>
#include <vector>

namespace alloclab::run {

using nlohmann::json;

namespace {

constexpr double kFloorNs = 0.001;

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string export_gbench(const Results& r) {
  json benchmarks = json::array();
  // Entries of one name must be consecutive with their repetition index.
  std::map<std::string, std::vector<const CellRecord*>> groups;
  std::vector<std::string> order;
  for (const auto& c : r.cells) {
    if (c.status != "ok") continue;
    std::string name = c.backend + "/" + c.workload + "/threads:" + std::to_string(c.threads);
    if (!groups.count(name)) order.push_back(name);
    groups[name].push_back(&c);
  }
  struct Entry {
    const char* suffix;
    const char* real;
    const char* cpu;
  };
  const std::vector<Entry> timed = {{"op", "wall_ns_per_op", "allocator_ns_per_op"},
                                    {"alloc", "alloc_mean_ns", "alloc_mean_ns"},
                                    {"free", "free_mean_ns", "free_mean_ns"},
                                    {"alloc_p99", "alloc_p99_ns", "alloc_p99_ns"}};
  // A file of `run --count instructions` holds no times: its one figure is
  // the exact instruction count per op, in the time fields (labelled so).
  const std::vector<Entry> counted = {{"instructions", "instructions_per_op", "instructions_per_op"}};
  const bool is_counted = r.config.value("count", "time") == "instructions";
  int family = 0;
  for (const auto& name : order) {
    auto& cells = groups[name];
    for (const auto& e : is_counted ? counted : timed) {
      bool any = false;
      int rep = 0;
      for (const CellRecord* c : cells) {
        auto metric = [&](const std::string& key) -> double {
          const auto& m = c->metrics;
          auto get = [&](const char* k) { auto it = m.find(k); return it == m.end() ? 0.0 : it->second; };
          if (key == "wall_ns_per_op" || key == "allocator_ns_per_op") {
            double ops = get("ops");
            if (ops <= 0) return -1;
            return (key == "wall_ns_per_op" ? get("wall_seconds") : get("allocator_seconds")) * 1e9 / ops;
          }
          auto it = m.find(key);
          return it == m.end() ? -1 : it->second;
        };
        double real = metric(e.real), cpu = metric(e.cpu);
        if (real < 0 && cpu < 0 && !c->metrics.count(e.real)) continue;  // the workload has no such op
        json b = {{"name", name + "/" + e.suffix},
                  {"family_index", family},
                  {"per_family_instance_index", 0},
                  {"run_name", name + "/" + e.suffix},
                  {"run_type", "iteration"},
                  {"repetitions", cells.size()},
                  {"repetition_index", rep++},
                  {"threads", c->threads},
                  {"iterations", 1},
                  {"real_time", real > kFloorNs ? real : kFloorNs},
                  {"cpu_time", cpu > kFloorNs ? cpu : kFloorNs},
                  {"time_unit", "ns"}};
        if (is_counted) b["label"] = "instructions per op under Callgrind, not a time";
        else if (real <= kFloorNs || cpu <= kFloorNs) b["label"] = "at or below the timer's floor";
        benchmarks.push_back(b);
        any = true;
      }
      if (any) ++family;
    }
  }
  const json& ctx = r.context;
  json context = {{"date", ctx.value("date", "")},
                  {"host_name", ctx.value("cpu_model", "")},
                  {"executable", "alloclab"},
                  {"num_cpus", ctx.value("cores", 0)},
                  {"mhz_per_cpu", 0},
                  {"cpu_scaling_enabled", false},
                  {"caches", json::array()},
                  {"load_avg", json::array()},
                  {"library_build_type", ctx.value("build", "release")},
                  {"alloclab_git_revision", ctx.value("git_revision", "")}};
  return json{{"context", context}, {"benchmarks", benchmarks}}.dump(2) + "\n";
}

std::string export_csv(const Results& r) {
  std::string out = "cell,backend,workload,threads,rep,status,metric,value\n";
  for (const auto& c : r.cells) {
    std::string head = csv_field(c.id) + "," + csv_field(c.backend) + "," + csv_field(c.workload) + "," +
                       std::to_string(c.threads) + "," + std::to_string(c.rep) + "," + c.status;
    if (c.metrics.empty()) {
      out += head + ",,\n";
      continue;
    }
    for (const auto& [k, v] : c.metrics) out += head + "," + k + "," + number(v) + "\n";
  }
  return out;
}

}  // namespace alloclab::run
