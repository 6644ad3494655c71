// Joining results files: the shards of one run (alloclab run --shard K/N),
// or partial runs of one configuration, into one file.
#pragma once

#include <string>
#include <vector>

#include "harness/run/results.hpp"

namespace alloclab::run {

// Throws ResultsError when the files do not belong to one run (their
// configurations differ) or two of them hold the same cell.
Results merge_results(const std::vector<std::string>& paths);

}  // namespace alloclab::run
