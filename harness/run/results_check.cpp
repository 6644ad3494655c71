#include "harness/run/results_check.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>

#include "allocators/spec.hpp"
#include "harness/run/results.hpp"
#include "workloads/trace.hpp"

namespace alloclab::run {

using nlohmann::json;

namespace {

// Values are quoted in messages only this far: a hostile file's 1 MB string
// does not reach the terminal, nor do its control characters.
std::string show(const json& v) {
  if (v.is_structured()) return v.is_array() ? "[...]" : "{...}";  // dump() would recurse as deep as the file
  std::string s = v.dump(-1, ' ', true, json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

const char* type_name(const json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

[[noreturn]] void bad(const std::string& path, const std::string& problem) {
  throw ResultsError(path + ": " + problem);
}

std::string key_path(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string index_path(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

// A JSON value at a path, with the checks the schema's types need.
class At {
 public:
  At(const json& v, std::string path) : v_(v), path_(std::move(path)) {}

  const json& value() const { return v_; }
  const std::string& path() const { return path_; }

  const At& object() const {
    if (!v_.is_object()) bad(path_, "expected an object, found " + std::string(type_name(v_)));
    return *this;
  }
  const At& array() const {
    if (!v_.is_array()) bad(path_, "expected an array, found " + std::string(type_name(v_)));
    return *this;
  }
  std::string string() const {
    if (!v_.is_string()) bad(path_, "expected a string, found " + std::string(type_name(v_)) + " " + show(v_));
    return v_.get<std::string>();
  }
  // A name a reader prints or keys on: not empty, no control characters.
  std::string name() const {
    std::string s = string();
    if (s.empty()) bad(path_, "is empty");
    for (unsigned char ch : s)
      if (ch < 0x20 || ch == 0x7f) bad(path_, "holds a control character");
    return s;
  }
  double number(double lo = -HUGE_VAL, double hi = HUGE_VAL) const {
    if (!v_.is_number()) bad(path_, "expected a number, found " + std::string(type_name(v_)) + " " + show(v_));
    double d = v_.get<double>();
    if (!(d >= lo && d <= hi)) bad(path_, show(v_) + " is out of range (" + range(lo, hi) + ")");
    return d;
  }
  // A count: an integer, or a number with no fraction (1000.0), in range.
  std::uint64_t whole(std::uint64_t lo = 0, std::uint64_t hi = UINT64_MAX) const {
    if (!v_.is_number() || (v_.is_number_float() && std::trunc(v_.get<double>()) != v_.get<double>()))
      bad(path_, "expected a whole number, found " + std::string(type_name(v_)) + " " + show(v_));
    auto out_of_range = [&] {
      bad(path_, show(v_) + " is out of range (" + std::to_string(lo) + " to " + std::to_string(hi) + ")");
    };
    if (v_.is_number_float()) {
      double d = v_.get<double>();
      if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi))) out_of_range();
      return static_cast<std::uint64_t>(d);
    }
    if (!v_.is_number_unsigned() && v_.get<std::int64_t>() < 0) out_of_range();
    std::uint64_t u = v_.get<std::uint64_t>();
    if (u < lo || u > hi) out_of_range();
    return u;
  }
  bool boolean() const {
    if (!v_.is_boolean()) bad(path_, "expected true or false, found " + std::string(type_name(v_)));
    return v_.get<bool>();
  }

  bool has(const char* key) const { return v_.is_object() && v_.contains(key); }
  At operator[](const char* key) const {
    object();
    auto it = v_.find(key);
    if (it == v_.end()) bad(key_path(path_, key), "missing");
    return At(*it, key_path(path_, key));
  }
  At operator[](std::size_t i) const { return At(v_[i], index_path(path_, i)); }
  std::size_t size() const { return v_.size(); }

  // Every member of an object, with its path.
  template <class F>
  void each_member(F f) const {
    object();
    for (auto it = v_.begin(); it != v_.end(); ++it) f(it.key(), At(it.value(), key_path(path_, it.key())));
  }
  template <class F>
  void each_item(F f) const {
    array();
    for (std::size_t i = 0; i < v_.size(); ++i) f(At(v_[i], index_path(path_, i)));
  }

 private:
  static std::string range(double lo, double hi) {
    auto fmt = [](double x) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", x);
      return std::string(buf);
    };
    if (lo == -HUGE_VAL) return "at most " + fmt(hi);
    if (hi == HUGE_VAL) return "at least " + fmt(lo);
    return fmt(lo) + " to " + fmt(hi);
  }

  const json& v_;
  std::string path_;
};

// Optional members: checked when present.
template <class F>
void optional(const At& obj, const char* key, F check) {
  if (obj.has(key)) check(obj[key]);
}

constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 53;  // exact in a double: what readers can hold
constexpr std::uint32_t kMaxReps = 1000;                     // run --reps

void numbers_object(const At& a) {
  a.each_member([](const std::string&, const At& v) { v.number(); });
}

void check_allocators(const At& a) {
  a.each_member([](const std::string&, const At& lib) {
    lib.object();
    for (const char* k : {"family", "version", "object"}) optional(lib, k, [](const At& s) { s.string(); });
  });
}

void check_context(const At& c) {
  c.object();
  for (const char* k : {"cpu_model", "kernel", "machine", "compiler", "build", "git_revision", "date"})
    optional(c, k, [](const At& s) { s.string(); });
  optional(c, "cores", [](const At& n) { n.whole(0, 1u << 20); });
  optional(c, "cores_online", [](const At& n) { n.whole(0, 1u << 20); });
  optional(c, "memory_bytes", [](const At& n) { n.whole(); });
  optional(c, "sanitized", [](const At& b) { b.boolean(); });
  optional(c, "allocators", check_allocators);
  optional(c, "other_machines", [](const At& list) { list.each_item([](const At& m) { check_context(m); }); });
  optional(c, "cpus", [](const At& list) { list.each_item([](const At& n) { n.whole(0, 1u << 20); }); });
  optional(c, "llc", [](const At& l) {
    if (l.value().is_null()) return;
    l.object();
    optional(l, "level", [](const At& n) { n.whole(0, 16); });
    optional(l, "size", [](const At& s) { s.string(); });
    optional(l, "groups", [](const At& g) { g.each_item([](const At& s) { s.string(); }); });
  });
}

// The workload names the run asked for.
// The workload names the run asked for (empty when the config lists none:
// a hand-made file). Every key is optional; one present must be right.
std::set<std::string> check_config(const At& c) {
  c.object();
  optional(c, "suite", [](const At& s) { s.string(); });
  optional(c, "backends", [](const At& b) {
    if (!b.value().is_null()) b.each_item([](const At& s) { s.name(); });
  });
  std::set<std::string> names;
  optional(c, "workloads", [&](const At& list) {
    list.each_item([&](const At& w) {
      std::string name = w["name"].name();
      if (!names.insert(name).second) bad(w["name"].path(), "workload " + show(w["name"].value()) + " appears twice");
      if (w.has("path")) {
        w["path"].string();
        w["threads"].whole(1, trace::kMaxThreads);
      } else {
        w["model"].name();
        optional(w, "requests", [](const At& n) { n.whole(); });
        optional(w, "threads", [](const At& t) { t.each_item([](const At& n) { n.whole(1, trace::kMaxThreads); }); });
        optional(w, "backends", [](const At& b) { b.each_item([](const At& s) { s.name(); }); });
        optional(w, "reps", [](const At& n) { n.whole(0, kMaxReps); });
        optional(w, "params", [](const At& p) { p.each_member([](const std::string&, const At& v) { v.string(); }); });
        optional(w, "age_bytes", [](const At& n) { n.whole(0, std::uint64_t{64} << 30); });
        optional(w, "idle_seconds", [](const At& n) { n.number(0, 600); });
      }
    });
  });
  optional(c, "threads", [](const At& t) { t.each_item([](const At& n) { n.whole(1, trace::kMaxThreads); }); });
  optional(c, "reps", [](const At& n) { n.whole(1, kMaxReps); });
  optional(c, "seed", [](const At& n) { n.whole(); });
  optional(c, "touch", [](const At& s) { s.name(); });
  optional(c, "sample_one_in", [](const At& n) { n.whole(1, UINT32_MAX); });
  optional(c, "timeout_seconds", [](const At& n) { n.number(0, HUGE_VAL); });
  optional(c, "memory_limit_bytes", [](const At& n) { n.whole(); });
  optional(c, "pin", [](const At& b) { b.boolean(); });
  optional(c, "experiment_backends", [](const At& b) { b.each_item([](const At& s) { s.name(); }); });
  optional(c, "scaling", [](const At& s) {
    std::string v = s.string();
    if (v != "weak" && v != "strong") bad(s.path(), show(s.value()) + " is neither \"weak\" nor \"strong\"");
  });
  optional(c, "count", [](const At& s) {
    std::string v = s.string();
    if (v != "time" && v != "instructions") bad(s.path(), show(s.value()) + " is neither \"time\" nor \"instructions\"");
  });
  return names;
}

void check_histogram(const At& h) {
  h.object();
  h["count"].whole(0, kMaxCount);
  for (const char* k : {"mean", "min", "p50", "p90", "p99", "p999", "max", "sum"})
    optional(h, k, [](const At& v) { v.number(); });
  optional(h, "buckets", [](const At& b) {
    b.each_item([](const At& pair) {
      pair.array();
      if (pair.size() != 2) bad(pair.path(), "a bucket is [lower_ns, count]");
      pair[std::size_t{0}].number();
      pair[std::size_t{1}].number(0);
    });
  });
}

void check_memory(const At& m) {
  m.object();
  for (const char* k : {"baseline_rss_bytes", "peak_rss_bytes", "end_rss_bytes", "floor_rss_bytes",
                        "heap_baseline_bytes", "peak_live_bytes_seen", "peak_thread_cache_bytes"})
    optional(m, k, [](const At& v) { v.number(0); });
  optional(m, "idle", [](const At& idle) {
    idle["interval_seconds"].number(1e-3, 60);
    idle["rss_bytes"].each_item([](const At& v) { v.number(0); });
  });
  if (!m.has("timeline")) return;
  m["baseline_rss_bytes"];  // what the timeline's RSS is read against
  std::size_t columns = 0;
  std::set<std::string> names;
  m["timeline_columns"].each_item([&](const At& s) { names.insert(s.name()), ++columns; });
  for (const char* k : {"ops", "live_bytes", "rss_bytes", "seconds"})
    if (!names.count(k)) bad(m["timeline_columns"].path(), std::string("has no \"") + k + "\" column");
  m["timeline"].each_item([&](const At& row) {
    row.array();
    if (row.size() != columns)
      bad(row.path(), "has " + std::to_string(row.size()) + " values for " + std::to_string(columns) + " columns");
    row.each_item([](const At& v) { v.number(); });
  });
}

void check_allocator_counters(const At& a) {
  a.each_member([](const std::string&, const At& point) {
    point.object();
    optional(point, "family", [](const At& s) { s.string(); });
    optional(point, "heap_bytes", [](const At& v) { v.number(0); });
    optional(point, "allocated_bytes", [](const At& v) { v.number(0); });
    optional(point, "raw", numbers_object);
  });
}

void check_replay(const At& r) {
  r.object();
  for (const char* k : {"wall_seconds", "busy_seconds", "sampling_seconds", "ops_per_second", "wait_seconds",
                        "instructions", "instructions_per_op", "failed_allocations", "refused_scope_allocations"})
    optional(r, k, [](const At& v) { v.number(0); });
  optional(r, "allocator_seconds", [](const At& v) { v.number(); });
  optional(r, "ops", [](const At& v) { v.whole(0, kMaxCount); });
  optional(r, "timer_reads", [](const At& v) { v.whole(0, kMaxCount); });
  optional(r, "threads", [](const At& v) { v.whole(1, trace::kMaxThreads); });
  for (const char* k : {"status", "count"}) optional(r, k, [](const At& s) { s.string(); });
  optional(r, "ops_by_class", [](const At& o) { o.each_member([](const std::string&, const At& v) { v.number(0); }); });
  for (const char* k : {"seconds_by_class", "mean_ns", "backend_stats"}) optional(r, k, numbers_object);
  optional(r, "latency_ns", [](const At& l) { l.each_member([](const std::string&, const At& h) { check_histogram(h); }); });
  optional(r, "request_ns", check_histogram);
  optional(r, "clock", [](const At& c) {
    for (const char* k : {"ns_per_tick", "overhead_ns", "resolution_ns"}) c[k].number(0);
    optional(c, "samples", [](const At& v) { v.number(0); });
  });
  optional(r, "per_thread", [](const At& p) {
    p.each_item([](const At& t) {
      t.each_member([](const std::string&, const At& v) {
        if (!v.value().is_boolean()) v.number();
      });
    });
  });
  optional(r, "memory", check_memory);
  optional(r, "fragmentation", [](const At& f) {
    if (f.value().is_null()) return;
    f.each_member([](const std::string&, const At& v) {
      if (!v.value().is_null()) v.number();
    });
  });
  optional(r, "allocator", check_allocator_counters);
  optional(r, "os", [](const At& o) {
    o.object();
    o.each_member([](const std::string&, const At& v) { v.number(0); });
  });
  optional(r, "access", [](const At& a) {
    a.object();
    for (const char* k : {"requests", "fill_blocks", "read_blocks"}) a[k].whole(0, kMaxCount);
    for (const char* k : {"fill_timed_blocks", "read_timed_blocks"}) optional(a, k, [](const At& n) { n.whole(0, kMaxCount); });
    optional(a, "timed_one_in", [](const At& n) { n.whole(1, UINT32_MAX); });
    // Net of the timer's overhead: a sum of intervals may fall below zero.
    for (const char* k : {"fill_seconds", "read_seconds", "seconds"}) a[k].number();
  });
  optional(r, "age", [](const At& a) {
    a.object();
    a.each_member([](const std::string&, const At& v) { v.number(0); });
  });
}

// A setting's key or value as a spec writes it: letters, digits, '_', '.',
// '-', at most 64 characters.
bool spec_word(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char ch : s)
    if (!std::isalnum(ch) && ch != '_' && ch != '.' && ch != '-') return false;
  return true;
}

// malloc.settings: {key: {requested, verified?, how}}, the keys and the
// requested values those of the cell's backend spec when it parses.
void check_settings(const At& set, const std::string& backend) {
  set.object();
  std::optional<BackendSpec> spec;
  try {
    spec = parse_backend_spec(backend);
  } catch (const SpecError&) {
  }
  for (auto it = set.value().begin(); it != set.value().end(); ++it) {
    if (!spec_word(it.key())) bad(set.path(), "holds a key that is no setting name");
  }
  set.each_member([&](const std::string& key, const At& one) {
    one.object();
    std::string requested = one["requested"].string();
    if (!spec_word(requested)) bad(one["requested"].path(), show(one["requested"].value()) + " is no setting value");
    // What the library reported: jemalloc can say "not supported".
    optional(one, "verified", [](const At& v) {
      std::string t = v.string();
      bool printable = !t.empty() && t.size() <= 64 &&
                       std::all_of(t.begin(), t.end(), [](unsigned char ch) { return ch >= 0x20 && ch < 0x7f; });
      if (!printable) bad(v.path(), show(v.value()) + " is no setting value");
    });
    one["how"].string();
    if (!spec) return;
    const auto& items = spec->settings.items();
    auto found = std::find_if(items.begin(), items.end(), [&](const Setting& s) { return s.key == key; });
    if (found == items.end()) bad(set.path(), "holds " + show(json(key)) + ", which backend " + show(json(backend)) + " does not set");
    if (found->value != requested)
      bad(one["requested"].path(), show(one["requested"].value()) + " is not the value backend " + show(json(backend)) + " sets");
  });
  if (spec && set.size() != spec->settings.items().size())
    bad(set.path(), "does not hold every setting of backend " + show(json(backend)));
}

void check_cell(const At& c, const std::set<std::string>& workloads, std::uint64_t reps, std::uint64_t machines) {
  c.object();
  std::string backend = c["backend"].name();
  std::string workload = c["workload"].name();
  std::uint64_t threads = c["threads"].whole(1, trace::kMaxThreads);
  std::uint64_t rep = c["rep"].whole(0, reps - 1);
  std::string id = c["id"].name();
  std::string want = cell_id(backend, workload, threads, rep);
  if (id != want) bad(c["id"].path(), show(c["id"].value()) + " is not the cell's coordinates (" + show(want) + ")");
  if (!workloads.empty() && !workloads.count(workload)) bad(c["workload"].path(), show(c["workload"].value()) + " is not a workload of the run's config");
  optional(c, "order", [](const At& v) { v.whole(0, kMaxCount); });
  // Which machine measured it, in a merge of several: 0 is `context`, k is
  // `context.other_machines[k - 1]`.
  optional(c, "machine", [&](const At& v) { v.whole(0, machines - 1); });
  optional(c, "worker_seconds", [](const At& v) { v.number(0); });
  optional(c, "malloc", [&](const At& m) {
    m.object();
    for (const char* k : {"family", "version"}) optional(m, k, [](const At& s) { s.string(); });
    optional(m, "settings", [&](const At& set) { check_settings(set, backend); });
  });
  std::string status = c["status"].string();
  if (status == "ok") {
    check_replay(c["replay"]);
  } else if (status == "failed") {
    At f = c["failure"];
    f["kind"].name();
    f["reason"].string();
    optional(f, "exit_code", [](const At& v) { v.number(); });
    for (const char* k : {"signal", "stderr"}) optional(f, k, [](const At& s) { s.string(); });
  } else if (status == "unsupported") {
    c["reason"].string();
  } else {
    bad(c["status"].path(), show(c["status"].value()) + " is not \"ok\", \"unsupported\" or \"failed\"");
  }
}

}  // namespace

std::string cell_id(const std::string& backend, const std::string& workload, std::uint64_t threads,
                    std::uint64_t rep) {
  return backend + "|" + workload + "|t" + std::to_string(threads) + "|r" + std::to_string(rep);
}

void check_results_shape(const json& doc) {
  At d(doc, "");
  if (!doc.is_object()) bad("(top level)", "expected an object, found " + std::string(type_name(doc)));
  At format = d["format"];
  if (!format.value().is_string() || format.value().get<std::string>() != kResultsFormat)
    bad("format", show(format.value()) + " is not \"" + kResultsFormat + "\"");
  At version = d["version"];
  if (!version.value().is_number_integer() || version.value().get<std::int64_t>() != kResultsVersion)
    bad("version", "results version " + show(version.value()) + "; this alloclab reads version " +
                       std::to_string(kResultsVersion));
  check_context(d["context"]);
  std::set<std::string> workloads = check_config(d["config"]);
  std::uint64_t reps = d["config"].has("reps") ? d["config"]["reps"].whole(1, kMaxReps) : kMaxReps;
  At shard = d["shard"].object();
  std::uint64_t count = shard["count"].whole(1, UINT32_MAX);
  shard["index"].whole(1, count);
  d["total_cells"].whole(0, kMaxCount);
  d["shard_cells"].whole(0, kMaxCount);
  optional(d, "merged_from", [](const At& m) { m.each_item([](const At& s) { s.string(); }); });
  optional(d, "workloads", [](const At& w) {
    w.each_member([](const std::string&, const At& info) {
      info.object();
      info.each_member([](const std::string& key, const At& v) {
        if (key == "source") v.string();
        else if (key != "metadata") v.number();
      });
    });
  });
  std::set<std::string> ids;
  std::uint64_t machines = 1 + (d["context"].has("other_machines") ? d["context"]["other_machines"].size() : 0);
  d["cells"].each_item([&](const At& c) {
    check_cell(c, workloads, reps, machines);
    if (!ids.insert(c["id"].string()).second) bad(c["id"].path(), "cell " + show(c["id"].value()) + " appears twice");
  });
}

}  // namespace alloclab::run
