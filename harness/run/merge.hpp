// Joining results files: the shards of one run (alloclab run --shard K/N),
// or partial runs of one configuration, into one file.
//
// Machines. A cell's figures mean something only beside the cells of the same
// machine, so merge never mixes machines silently. A machine is told by its
// identity: context cpu_model, cores, memory_bytes, kernel and machine (the
// architecture). Files whose identities differ are refused unless
// allow_machines is set; then the merged file lists every context (the first
// file's as `context`, the others under `context.other_machines`) and every
// cell says which one measured it: `"machine": k`, 0 for `context`, k for
// `other_machines[k-1]` (results/SCHEMA.md). Contexts of one identity that
// differ otherwise (a build, a git revision) are kept the same way, as before;
// the date alone never makes another context.
#pragma once

#include <string>
#include <vector>

#include "harness/run/results.hpp"

namespace alloclab::run {

// Throws ResultsError when the files do not belong to one run (their
// configurations differ), two of them hold the same cell, or (without
// allow_machines) they were measured on different machines.
Results merge_results(const std::vector<std::string>& paths, bool allow_machines = false);

// The keys of `context` that tell one machine from another.
std::vector<std::string> machine_identity_keys();

}  // namespace alloclab::run
