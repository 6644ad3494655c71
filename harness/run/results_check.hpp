// The shape of a results file (results/SCHEMA.md), checked before anything
// reads it: every key a reader uses has the type and range the schema gives
// it, and every cell is one the run could have made (its id is its
// coordinates, its workload one the run asked for, an ok cell has a replay,
// a failed one says why). A file that passes can be read without a type
// error anywhere in alloclab, the report included.
//
// The check reads; it never repairs. Keys the schema does not name are
// allowed (a newer alloclab may add figures); keys it names must be right.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace alloclab::run {

// Throws ResultsError: "PATH: problem", PATH a JSON path into the document
// (`cells[3].replay.memory.timeline[7][2]`).
void check_results_shape(const nlohmann::json& doc);

// The canonical id of a cell: BACKEND|WORKLOAD|tTHREADS|rREP.
std::string cell_id(const std::string& backend, const std::string& workload, std::uint64_t threads,
                    std::uint64_t rep);

}  // namespace alloclab::run
