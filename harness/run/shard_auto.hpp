// Which slice of a sharded run this process runs: `--shard K/N` as given,
// or `--shard auto` / `auto/N` from the variables of the engine that
// started it, so one job script serves every slice.
//
//   Slurm job array   SLURM_ARRAY_TASK_ID, mapped onto 1..N through
//                     SLURM_ARRAY_TASK_MIN (required) and
//                     SLURM_ARRAY_TASK_STEP (1 when unset); N is
//                     SLURM_ARRAY_TASK_COUNT. --array=0-7, 1-8 and 0-14:2
//                     all work; SLURM_ARRAY_TASK_MAX, when set, must be the
//                     last id of that progression, so an uneven list such as
//                     --array=1,2,9 is refused instead of leaving a gap.
//   Kubernetes        JOB_COMPLETION_INDEX, 0-based, of an Indexed Job; the
//                     pod does not see `completions`, so N must be given.
//   GNU parallel      PARALLEL_SEQ, the job's 1-based sequence number
//                     ({#}); N must be given.
//
// Exactly one engine's id variable must be set (an empty value counts as
// unset). Every refusal is a ShardError whose one-line message names the
// variable and its value.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace alloclab::run {

class ShardError : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct ShardSlice {
  std::uint32_t index = 1, count = 1;  // 1 <= index <= count
  // Where the slice came from: "" for K/N, else the engine and its id
  // variable, e.g. "Slurm SLURM_ARRAY_TASK_ID=0".
  std::string source;
};

// Reads one environment variable; nullptr when unset. The default is
// ::getenv; tests pass a map.
using EnvLookup = std::function<const char*(const char*)>;

// Parses the --shard value: "K/N", "auto" or "auto/N". Throws ShardError.
ShardSlice parse_shard(const std::string& text, const EnvLookup& env = {});

// The engine's slice; `given_count` is N of auto/N, 0 for plain auto.
// Throws ShardError.
ShardSlice resolve_shard_auto(std::uint32_t given_count, const EnvLookup& env = {});

}  // namespace alloclab::run
