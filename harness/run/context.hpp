// The machine and build a run measured on: what a reader needs to judge
// whether two results files can be compared.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

namespace alloclab::run {

// CPU model, cores (online and usable by this process), memory, kernel,
// compiler, build type, alloclab's git revision, the date (UTC).
// `allocators` is added by the caller: each library's loaded version as its
// worker reported it.
nlohmann::json machine_context();

// Cores this process may run on (sched_getaffinity), at least 1.
unsigned usable_cores();
// Their ids, in order (sched_getaffinity).
std::vector<int> usable_cpu_list();

}  // namespace alloclab::run
