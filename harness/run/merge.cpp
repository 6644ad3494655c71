#include "harness/run/merge.hpp"

#include <algorithm>
#include <map>

namespace alloclab::run {

using nlohmann::json;

std::vector<std::string> machine_identity_keys() { return {"cpu_model", "cores", "memory_bytes", "kernel", "machine"}; }

namespace {

json identity(const json& context) {
  json id = json::object();
  for (const auto& k : machine_identity_keys()) id[k] = context.contains(k) ? context[k] : json();
  return id;
}

// How two identities differ, for the refusal: "cores 16 vs 2, kernel ... vs ...".
std::string difference(const json& a, const json& b) {
  std::string out;
  for (const auto& k : machine_identity_keys()) {
    if (a[k] == b[k]) continue;
    if (!out.empty()) out += ", ";
    out += k + " " + a[k].dump() + " vs " + b[k].dump();
  }
  return out;
}

// A file's contexts in its own machine numbering: [context, other_machines...].
std::vector<json> contexts_of(const Results& r) {
  json first = r.context;
  std::vector<json> out;
  json others = first.contains("other_machines") ? first["other_machines"] : json::array();
  first.erase("other_machines");
  out.push_back(first);
  if (others.is_array())
    for (const auto& c : others) out.push_back(c);
  return out;
}

bool same_context(json a, json b) {
  a.erase("date");
  b.erase("date");
  a.erase("other_machines");
  b.erase("other_machines");
  return a == b;
}

}  // namespace

Results merge_results(const std::vector<std::string>& paths, bool allow_machines) {
  if (paths.empty()) throw ResultsError("nothing to merge");
  Results out;
  std::map<std::string, std::string> owner;  // cell id -> file
  std::vector<json> machines;                // the merged file's contexts: 0 is `context`
  std::vector<std::string> machine_file;     // the file each came from first
  struct Pending {
    CellRecord cell;
    std::size_t machine;
  };
  std::vector<Pending> cells;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    Results r = Results::read(paths[i]);
    if (i == 0) {
      out.config = r.config;
      out.total_cells = r.total_cells;
      out.workloads = json::object();
    } else if (r.config != out.config) {
      throw ResultsError(paths[i] + " was run with another configuration than " + paths[0] +
                         " (backends, workloads, threads, reps, seed, touch, sample, timeout or memory limit)");
    }
    // This file's machine numbers -> the merged file's.
    std::vector<std::size_t> to_out;
    const std::vector<json> own = contexts_of(r);
    for (const json& c : own) {
      auto it = std::find_if(machines.begin(), machines.end(), [&](const json& m) { return same_context(m, c); });
      if (it == machines.end()) {
        if (!machines.empty() && !allow_machines && identity(c) != identity(machines[0]))
          throw ResultsError(paths[i] + " holds cells measured on another machine than " +
                             (machine_file[0] == paths[i] ? std::string("its first") : machine_file[0]) + " (" +
                             difference(identity(c), identity(machines[0])) +
                             "); --allow-machines merges them, each cell marked with its machine");
        machines.push_back(c);
        machine_file.push_back(paths[i]);
        it = machines.end() - 1;
      }
      to_out.push_back(static_cast<std::size_t>(it - machines.begin()));
    }
    bool mixed = false;  // this file's own contexts are several machines
    for (const json& c : own) mixed = mixed || identity(c) != identity(own[0]);
    for (const auto& [k, v] : r.workloads.items()) out.workloads[k] = v;
    for (auto& c : r.cells) {
      auto [it, fresh] = owner.emplace(c.id, paths[i]);
      if (!fresh) throw ResultsError("cell " + c.id + " is in both " + it->second + " and " + paths[i]);
      std::size_t local = 0;
      if (to_out.size() > 1) {
        json cell = json::parse(c.text);
        if (!cell.contains("machine")) {
          // A file merged before cells named their machine: where its contexts are
          // different machines, nothing says which measured this cell.
          if (mixed) throw ResultsError(paths[i] + ": cell " + c.id + " does not say which of the file's machines "
                                        "measured it (merged before cells recorded their machine)");
        } else {
          const json& m = cell["machine"];
          if (!m.is_number_unsigned() || m.get<std::uint64_t>() >= to_out.size())
            throw ResultsError(paths[i] + ": cell " + c.id + " has machine " + m.dump() + ", not one of its " +
                               std::to_string(to_out.size()) + " contexts");
          local = m.get<std::size_t>();
        }
      }
      cells.push_back({std::move(c), to_out[local]});
    }
    out.merged_from.push_back(paths[i]);
  }
  out.context = machines[0];
  if (machines.size() > 1) {
    out.context["other_machines"] = json(std::vector<json>(machines.begin() + 1, machines.end()));
  }
  // Every cell names its machine when there is more than one; none does otherwise.
  for (auto& p : cells) {
    if (machines.size() > 1 || p.cell.text.find("\"machine\"") != std::string::npos) {
      json cell = json::parse(p.cell.text);
      if (machines.size() > 1) {
        cell["machine"] = p.machine;
      } else {
        cell.erase("machine");
      }
      p.cell = make_record(cell);
    }
    out.cells.push_back(std::move(p.cell));
  }
  std::sort(out.cells.begin(), out.cells.end(), [](const CellRecord& a, const CellRecord& b) { return a.order < b.order; });
  out.shard_index = out.shard_count = 1;
  out.shard_cells = out.total_cells;
  return out;
}

}  // namespace alloclab::run
