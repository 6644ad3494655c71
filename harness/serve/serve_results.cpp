#include "harness/serve/serve_results.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "allocators/general/library.hpp"
#include "harness/run/results.hpp"
#include "harness/serve/serve_suite.hpp"
#include "workloads/regular_file.hpp"

namespace alloclab::serve {

using nlohmann::json;
using run::ResultsError;

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what) { throw ResultsError(where + ": " + what); }

// "where.key", or "key" at the top level (where is "").
std::string at_key(const std::string& where, const std::string& key) { return where.empty() ? key : where + "." + key; }

std::string kind_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

const json& need(const json& obj, const std::string& key, const std::string& where) {
  if (!obj.contains(key)) bad(where.empty() ? "(top level)" : where, "missing key \"" + key + "\"");
  return obj.at(key);
}

const json& object_at(const json& obj, const std::string& key, const std::string& where) {
  const json& v = need(obj, key, where);
  if (!v.is_object()) bad(at_key(where, key), kind_of(v) + ", expected an object");
  return v;
}

const json& array_at(const json& obj, const std::string& key, const std::string& where) {
  const json& v = need(obj, key, where);
  if (!v.is_array()) bad(at_key(where, key), kind_of(v) + ", expected an array");
  return v;
}

std::string string_at(const json& obj, const std::string& key, const std::string& where) {
  const json& v = need(obj, key, where);
  if (!v.is_string()) bad(at_key(where, key), kind_of(v) + ", expected a string");
  return v.get<std::string>();
}

double number_at(const json& obj, const std::string& key, const std::string& where, double lo, double hi) {
  const json& v = need(obj, key, where);
  if (!v.is_number()) bad(at_key(where, key), kind_of(v) + ", expected a number");
  double x = v.get<double>();
  if (!(x >= lo && x <= hi)) {
    std::ostringstream s;
    s << v.dump() << " is out of range (" << lo << " to " << hi << ")";
    bad(at_key(where, key), s.str());
  }
  return x;
}

std::int64_t whole_at(const json& obj, const std::string& key, const std::string& where, std::int64_t lo, std::int64_t hi) {
  const json& v = need(obj, key, where);
  if (!v.is_number_integer()) bad(at_key(where, key), kind_of(v) == "a number" ? v.dump() + " is not a whole number" : kind_of(v) + ", expected a whole number");
  std::int64_t x = v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : v.get<std::int64_t>();
  if (x < lo || x > hi) bad(at_key(where, key), v.dump() + " is out of range (" + std::to_string(lo) + " to " + std::to_string(hi) + ")");
  return x;
}

constexpr double kBig = 1e15;

void check_latency(const json& obj, const std::string& where) {
  const json& l = object_at(obj, "latency_us", where);
  for (const char* k : {"p50", "p90", "p99", "p999", "max"}) number_at(l, k, where + ".latency_us", 0, kBig);
}

void check_cpu(const json& obj, const std::string& where) {
  const json& s = object_at(obj, "server", where);
  std::string w = where + ".server";
  for (const char* k : {"user_s", "sys_s", "ns_per_request", "minor_faults", "major_faults"}) number_at(s, k, w, 0, kBig);
}

void check_cell(const json& c, const std::string& where, const json& config, std::set<std::string>& ids) {
  if (!c.is_object()) bad(where, kind_of(c) + ", expected an object");
  std::string id = string_at(c, "id", where);
  std::string server = string_at(c, "server", where);
  std::string allocator = string_at(c, "allocator", where);
  const auto& servers = config.at("servers");
  if (std::find(servers.begin(), servers.end(), server) == servers.end())
    bad(where + ".server", "\"" + server + "\" is not in config.servers");
  const auto& allocators = config.at("allocators");
  if (std::find(allocators.begin(), allocators.end(), allocator) == allocators.end())
    bad(where + ".allocator", "\"" + allocator + "\" is not in config.allocators");
  auto rep = whole_at(c, "rep", where, 0, config.at("reps").get<std::int64_t>() - 1);
  std::string expected = server + "|" + allocator + "|r" + std::to_string(rep);
  if (id != expected) bad(where + ".id", "\"" + id + "\" is not its coordinates (" + expected + ")");
  if (!ids.insert(id).second) bad(where + ".id", "\"" + id + "\" appears twice");
  std::string status = string_at(c, "status", where);
  if (status == "failed") {
    string_at(c, "failure", where);
    return;
  }
  if (status != "ok") bad(where + ".status", "\"" + status + "\" is not ok or failed");
  const json& id_list = array_at(c, "identity", where);
  for (std::size_t i = 0; i < id_list.size(); ++i) {
    std::string w = where + ".identity[" + std::to_string(i) + "]";
    if (!id_list[i].is_object()) bad(w, kind_of(id_list[i]) + ", expected an object");
    string_at(id_list[i], "family", w);
  }
  const json& peak = object_at(c, "peak", where);
  for (const char* k : {"requests", "seconds", "rps", "errors"}) number_at(peak, k, where + ".peak", 0, kBig);
  check_latency(peak, where + ".peak");
  check_cpu(peak, where + ".peak");
  const json& fixed = object_at(c, "fixed", where);
  for (const char* k : {"offered_rps", "due", "requests", "errors", "seconds", "achieved_rps"})
    number_at(fixed, k, where + ".fixed", 0, kBig);
  check_latency(fixed, where + ".fixed");
  check_cpu(fixed, where + ".fixed");
  const json& mem = object_at(c, "memory", where);
  for (const char* k : {"vm_hwm_kib", "pss_kib", "anon_huge_kib", "processes"}) number_at(mem, k, where + ".memory", 0, kBig);
  const json& series = array_at(mem, "rss_series", where + ".memory");
  for (std::size_t i = 0; i < series.size(); ++i) {
    const json& p = series[i];
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number() || p[1].get<double>() < 0)
      bad(where + ".memory.rss_series[" + std::to_string(i) + "]", "expected [ms, kib]");
  }
  if (c.contains("gc")) {
    const json& gc = object_at(c, "gc", where);
    std::string w = where + ".gc";
    for (const char* k : {"count", "max_pause_ms", "heap_used_max_mb"}) number_at(gc, k, w, 0, kBig);
    const json& all = array_at(gc, "collections", w);
    for (std::size_t i = 0; i < all.size(); ++i) {
      const json& e = all[i];
      if (!e.is_array() || e.size() != 5 || !e[0].is_number() || !e[1].is_string() || !e[2].is_number() ||
          !e[3].is_number() || !e[4].is_number() || e[4].get<double>() < 0)
        bad(w + ".collections[" + std::to_string(i) + "]", "expected [ms, kind, MB before, MB after, pause ms]");
    }
  }
}

}  // namespace

bool mentions_serve_format(std::string_view text) { return text.find("\"alloclab-serve\"") != std::string_view::npos; }

void check_serve_shape(const json& doc) {
  if (!doc.is_object()) bad("(the document)", kind_of(doc) + ", expected an object");
  if (string_at(doc, "format", "") != kServeFormat)
    bad("format", "not \"" + std::string(kServeFormat) + "\"");
  const json& version = need(doc, "version", "");
  if (version != 1) bad("version", "serve results version " + version.dump() + "; this alloclab reads version 1");
  const json& complete = need(doc, "complete", "");
  if (!complete.is_boolean()) bad("complete", kind_of(complete) + ", expected a boolean");
  object_at(doc, "context", "");
  const json& config = object_at(doc, "config", "");
  const json& servers = array_at(config, "servers", "config");
  if (servers.empty()) bad("config.servers", "empty");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    std::string w = "config.servers[" + std::to_string(i) + "]";
    if (!servers[i].is_string()) bad(w, kind_of(servers[i]) + ", expected a string");
    try {
      ServerSpec spec = parse_server_spec(servers[i].get<std::string>());
      if (spec.label != servers[i].get<std::string>()) bad(w, "\"" + servers[i].get<std::string>() + "\" is not written as " + spec.label);
    } catch (const std::invalid_argument& e) {
      bad(w, e.what());
    }
    if (!seen.insert(servers[i].get<std::string>()).second) bad(w, "named twice");
  }
  const json& allocators = array_at(config, "allocators", "config");
  if (allocators.empty()) bad("config.allocators", "empty");
  seen.clear();
  for (std::size_t i = 0; i < allocators.size(); ++i) {
    std::string w = "config.allocators[" + std::to_string(i) + "]";
    if (!allocators[i].is_string() || !library_from_name(allocators[i].get<std::string>()))
      bad(w, allocators[i].dump() + " is not glibc, jemalloc, mimalloc or tcmalloc");
    if (!seen.insert(allocators[i].get<std::string>()).second) bad(w, "named twice");
  }
  whole_at(config, "reps", "config", 1, 100);
  whole_at(config, "warmup_s", "config", 0, 600);
  whole_at(config, "peak_s", "config", 1, 600);
  number_at(config, "fixed_s", "config", 0.1, 600);
  number_at(config, "rate", "config", 0, 1e7);
  number_at(config, "rate_fraction", "config", 0.01, 1);
  whole_at(config, "connections", "config", 1, 10000);
  whole_at(config, "body_bytes", "config", 1, 64 << 20);
  const json& cells = array_at(doc, "cells", "");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < cells.size(); ++i) check_cell(cells[i], "cells[" + std::to_string(i) + "]", config, ids);
  if (doc.contains("comparisons")) array_at(doc, "comparisons", "");
  if (doc.contains("predictions")) {
    const json& preds = array_at(doc, "predictions", "");
    for (std::size_t i = 0; i < preds.size(); ++i) {
      std::string w = "predictions[" + std::to_string(i) + "]";
      if (!preds[i].is_object()) bad(w, kind_of(preds[i]) + ", expected an object");
      std::string s = string_at(preds[i], "server", w);
      if (std::find(servers.begin(), servers.end(), s) == servers.end()) bad(w + ".server", "\"" + s + "\" is not in config.servers");
      std::string status = string_at(preds[i], "status", w);
      if (status != "ok" && status != "failed") bad(w + ".status", "\"" + status + "\" is not ok or failed");
      if (status == "ok") array_at(preds[i], "allocators", w);
    }
  }
}

json parse_serve_results(std::string_view text, const std::string& path) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw ResultsError(path + ": not JSON (a truncated or foreign file?)");
  try {
    check_serve_shape(doc);
  } catch (const ResultsError& e) {
    throw ResultsError(path + ": " + e.what());
  }
  return doc;
}

json read_serve_results(const std::string& path) {
  std::string text;
  try {
    text = read_regular_file(path, std::uint64_t{2} << 30, "2 GiB");
  } catch (const RegularFileError& e) {
    throw ResultsError(path + ": " + e.what());
  }
  return parse_serve_results(text, path);
}

std::string export_serve_csv(const json& doc) {
  std::ostringstream out;
  out << "cell,server,allocator,rep,status,metric,value\n";
  out.precision(17);
  for (const auto& c : doc.at("cells")) {
    std::string head = c.at("id").get<std::string>() + "," + c.at("server").get<std::string>() + "," +
                       c.at("allocator").get<std::string>() + "," + std::to_string(c.at("rep").get<int>()) + "," +
                       c.at("status").get<std::string>() + ",";
    if (c.at("status") != "ok") continue;
    auto row = [&](const char* metric, const json& v) {
      if (v.is_number()) out << head << metric << "," << v.get<double>() << "\n";
    };
    const json& p = c.at("peak");
    row("peak_rps", p.at("rps"));
    row("peak_p50_us", p.at("latency_us").at("p50"));
    row("peak_p99_us", p.at("latency_us").at("p99"));
    row("peak_cpu_ns_per_request", p.at("server").at("ns_per_request"));
    row("peak_user_ns_per_request", p.at("server").value("user_ns_per_request", json()));
    row("peak_sys_ns_per_request", p.at("server").value("sys_ns_per_request", json()));
    double reqs = p.at("requests").get<double>();
    if (reqs > 0) row("peak_minor_faults_per_request", p.at("server").at("minor_faults").get<double>() / reqs);
    const json& f = c.at("fixed");
    row("fixed_offered_rps", f.at("offered_rps"));
    row("fixed_achieved_rps", f.at("achieved_rps"));
    row("fixed_p50_us", f.at("latency_us").at("p50"));
    row("fixed_p99_us", f.at("latency_us").at("p99"));
    row("fixed_p999_us", f.at("latency_us").at("p999"));
    row("fixed_cpu_ns_per_request", f.at("server").at("ns_per_request"));
    const json& m = c.at("memory");
    row("vm_hwm_kib", m.at("vm_hwm_kib"));
    row("pss_kib", m.at("pss_kib"));
    row("anon_huge_kib", m.at("anon_huge_kib"));
    if (c.contains("gc")) {
      row("gc_collections", c.at("gc").at("count"));
      row("gc_max_pause_ms", c.at("gc").at("max_pause_ms"));
      row("gc_heap_used_max_mb", c.at("gc").at("heap_used_max_mb"));
    }
  }
  return out.str();
}

json merge_serve_results(const std::vector<std::string>& paths) {
  if (paths.empty()) throw ResultsError("no files to merge");
  json merged = read_serve_results(paths.front());
  std::set<std::string> ids;
  for (const auto& c : merged["cells"]) ids.insert(c["id"].get<std::string>());
  std::set<std::string> predicted;
  for (const auto& p : merged.value("predictions", json::array())) predicted.insert(p["server"].get<std::string>());
  for (std::size_t i = 1; i < paths.size(); ++i) {
    json doc = read_serve_results(paths[i]);
    if (doc["config"] != merged["config"])
      throw ResultsError(paths[i] + ": another configuration than " + paths.front() + " (config differs)");
    for (const char* k : {"cpu_model", "cores", "memory_bytes", "kernel", "machine"}) {
      if (doc["context"].value(k, json()) != merged["context"].value(k, json()))
        throw ResultsError(paths[i] + ": measured on another machine than " + paths.front() + " (context." + k + " differs)");
    }
    for (auto& c : doc["cells"]) {
      if (!ids.insert(c["id"].get<std::string>()).second)
        throw ResultsError(paths[i] + ": cell " + c["id"].get<std::string>() + " is also in an earlier file");
      merged["cells"].push_back(c);
    }
    for (auto& p : doc.value("predictions", json::array())) {
      if (!predicted.insert(p["server"].get<std::string>()).second)
        throw ResultsError(paths[i] + ": the prediction of " + p["server"].get<std::string>() + " is also in an earlier file");
      merged["predictions"].push_back(p);
    }
  }
  std::vector<std::string> allocators;
  for (const auto& a : merged["config"]["allocators"]) allocators.push_back(a.get<std::string>());
  merged["comparisons"] = compare_cells(merged["cells"], allocators);
  // Whole when every planned cell is in: each plain server under every
  // allocator, each retaining node under the first, every repetition.
  std::size_t planned = 0;
  for (const auto& s : merged["config"]["servers"]) {
    bool retains = s.get<std::string>().find(':') != std::string::npos;
    planned += (retains ? 1 : allocators.size()) * merged["config"]["reps"].get<std::size_t>();
  }
  merged["complete"] = merged["cells"].size() == planned;
  return merged;
}

}  // namespace alloclab::serve
