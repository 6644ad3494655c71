// Reading, checking, exporting and merging `alloclab serve` results files
// (results/SCHEMA.md, "Server results"). Every reader treats the file as
// hostile: the whole document is checked before use, and each problem is
// one run::ResultsError (exit status 2) naming its JSON path.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace alloclab::serve {

inline constexpr const char* kServeFormat = "alloclab-serve";

// Whether `text` (a whole input file) looks like a serve document rather
// than a replay results file: it names the serve format. The check is then
// done in full by parse_serve_results.
bool mentions_serve_format(std::string_view text);

// Parses and checks a document; `path` prefixes every message.
nlohmann::json parse_serve_results(std::string_view text, const std::string& path);
nlohmann::json read_serve_results(const std::string& path);

// Throws run::ResultsError ("cells[3].peak.rps: -1 is out of range ...").
void check_serve_shape(const nlohmann::json& doc);

// One row per cell and figure: cell,server,allocator,rep,status,metric,value.
std::string export_serve_csv(const nlohmann::json& doc);

// Joins serve files of one configuration measured on one machine (their
// cells, each id once); comparisons are recomputed over the joined cells
// and predictions kept (a server's prediction once).
nlohmann::json merge_serve_results(const std::vector<std::string>& paths);

}  // namespace alloclab::serve
