// Counting instructions under Callgrind (`alloclab run --count instructions`):
// the command line a cell's worker runs under, the environment that keeps
// allocators off the clock, and the totals read back from Callgrind's file.
//
// Callgrind counts the instructions a program executes (event Ir) on a
// simulated CPU, so one thread replaying one trace executes the same
// instructions every time: a comparison needs no repetitions. The worker
// starts with collection off (--collect-atstart=no) and switches it on
// around the replay's ops only (harness/replay/replay.hpp, Replayer::count).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace alloclab::run {

// A cell's --timeout is meant for a native worker; under Callgrind it is
// multiplied by this, so that a cell which would finish natively is not
// killed as hung. Measured on this 2-core VM, a whole worker (start-up,
// trace loading, replay) on http1-static with 6.5 M ops: 23-25x slower
// with --touch pages (glibc 0.67 s -> 16.9 s, jemalloc 0.59 s -> 13.6 s),
// 70x with --touch all (0.72 s -> 50.3 s: every byte written is an
// instrumented store). Valgrind's own figure for Callgrind is 50-100x.
inline constexpr double kCallgrindSlowdown = 100;

// The valgrind executable: the first in a directory of `path_list`
// (PATH's form; empty entries are skipped), or nullopt when there is none.
std::optional<std::string> find_valgrind(const std::string& path_list);

// The arguments that run `worker_argv` under Callgrind with its totals
// written to `out_file`, its environment first given `env` (NAME=value
// entries from deterministic_env()).
std::vector<std::string> callgrind_command(const std::string& valgrind, const std::string& out_file,
                                           const std::vector<std::string>& env,
                                           const std::vector<std::string>& worker_argv);

// Settings that keep the general allocators from acting on the clock, so
// that their instructions repeat: jemalloc's decay and mimalloc's delayed
// decommit purge memory when enough milliseconds have passed, which under
// Callgrind depends on how fast the machine ran. `user_malloc_conf`, when
// not nullptr, is a MALLOC_CONF to keep: the decay settings are appended,
// which jemalloc applies last. The runner passes nullptr (workers inherit no
// allocator variables) and appends a spec's own settings after these.
std::vector<std::string> deterministic_env(const char* user_malloc_conf);

// The total of event Ir in a Callgrind output file's text (its `totals:`
// line, else its `summary:` line), or nullopt when it has none.
std::optional<std::uint64_t> callgrind_instructions(const std::string& text);

}  // namespace alloclab::run
