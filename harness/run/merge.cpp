#include "harness/run/merge.hpp"

#include <algorithm>
#include <map>

namespace alloclab::run {

Results merge_results(const std::vector<std::string>& paths) {
  if (paths.empty()) throw ResultsError("nothing to merge");
  Results out;
  std::map<std::string, std::string> owner;  // cell id -> file
  nlohmann::json contexts = nlohmann::json::array();
  for (std::size_t i = 0; i < paths.size(); ++i) {
    Results r = Results::read(paths[i]);
    if (i == 0) {
      out.context = r.context;
      out.config = r.config;
      out.total_cells = r.total_cells;
      out.workloads = nlohmann::json::object();
    } else if (r.config != out.config) {
      throw ResultsError(paths[i] + " was run with another configuration than " + paths[0] +
                         " (backends, workloads, threads, reps, seed, touch, sample, timeout or memory limit)");
    }
    // Shards run on several machines: keep every machine's context.
    auto strip = [](nlohmann::json c) {
      c.erase("date");
      return c;
    };
    if (strip(r.context) != strip(out.context)) contexts.push_back(r.context);
    for (const auto& [k, v] : r.workloads.items()) out.workloads[k] = v;
    for (auto& c : r.cells) {
      auto [it, fresh] = owner.emplace(c.id, paths[i]);
      if (!fresh) throw ResultsError("cell " + c.id + " is in both " + it->second + " and " + paths[i]);
      out.cells.push_back(std::move(c));
    }
    out.merged_from.push_back(paths[i]);
  }
  if (!contexts.empty()) out.context["other_machines"] = contexts;
  std::sort(out.cells.begin(), out.cells.end(), [](const CellRecord& a, const CellRecord& b) { return a.order < b.order; });
  out.shard_index = out.shard_count = 1;
  out.shard_cells = out.total_cells;
  return out;
}

}  // namespace alloclab::run
