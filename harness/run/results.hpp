// The results file (results/SCHEMA.md): one JSON document holding the
// machine's context, the run's configuration, every cell's raw figures and
// the summaries computed from them.
//
// A run rewrites the whole file after every cell, atomically (temporary
// file, then rename), so a kill at any moment leaves the previous complete
// version. Cells are kept as their serialized text and a few extracted
// figures, so each rewrite costs a copy, not a re-serialization.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace alloclab::run {

inline constexpr const char* kResultsFormat = "alloclab-results";
inline constexpr int kResultsVersion = 1;

class ResultsError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CellRecord {
  std::string id;
  std::string backend, workload;
  std::uint32_t threads = 0, rep = 0, order = 0;
  // The machine that measured it in a merge of several (`"machine": k`, an
  // index into the contexts); 0, the file's `context`, otherwise.
  std::uint32_t machine = 0;
  std::string status;                      // "ok", "unsupported", "failed"
  std::map<std::string, double> metrics;   // figures the summaries use (ok cells)
  std::string text;                        // the cell's JSON, serialized
};

// Extracts what the summaries need from a cell's JSON.
CellRecord make_record(const nlohmann::json& cell);

struct Results {
  nlohmann::json context = nlohmann::json::object();   // machine and build
  nlohmann::json config = nlohmann::json::object();    // RunConfig::to_json()
  nlohmann::json workloads = nlohmann::json::object(); // per trace: what it contains
  std::uint32_t shard_index = 1, shard_count = 1;
  std::uint64_t total_cells = 0;  // in the whole run (all shards)
  std::uint64_t shard_cells = 0;  // in this file's slice
  std::vector<std::string> merged_from;  // files joined by `alloclab merge`
  std::vector<CellRecord> cells;

  bool has(const std::string& id) const;
  void add(const nlohmann::json& cell);
  std::uint64_t failed() const;

  // The whole document (summaries computed now) as text.
  std::string serialize() const;
  // Atomic write (throws WriteError).
  void write(const std::string& path) const;
  // Reads a results file; throws ResultsError naming the file and problem.
  static Results read(const std::string& path);
  // The same from the file's text; `path` names it in errors.
  static Results parse(std::string_view text, const std::string& path);
};

// Median, quartiles (linear interpolation between order statistics), IQR.
struct Spread {
  std::size_t n = 0;
  double median = 0, q1 = 0, q3 = 0, min = 0, max = 0;
  double iqr() const { return q3 - q1; }
};
Spread spread(std::vector<double> values);

// Per (backend, workload, threads, machine): the spread of every metric over
// the ok repetitions, and counts of each status. Cells of different
// machines are never pooled; an entry of machine k > 0 says so.
nlohmann::json summaries(const std::vector<CellRecord>& cells);

// Throughput against thread count per (backend, workload, machine): speedup
// and efficiency against one thread; counts above the machine's cores
// (cores[k], 0 for unknown) are oversubscribed.
nlohmann::json scaling(const std::vector<CellRecord>& cells, const std::vector<unsigned>& cores);

}  // namespace alloclab::run
