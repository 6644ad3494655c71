// Turns the raw events of a capture directory (capture_event.hpp) into a
// trace: the events of one process, merged across its threads by their
// global sequence number, replayed through a TraceBuilder that maps each
// address to a slot and adds the edges cross-thread frees need.
//
// What cannot become an op is counted, never guessed at:
//   unknown_frees   a free (or realloc) of an address the trace never saw
//                   allocated: allocated before capture began, or by the
//                   dynamic loader
//   failed          an allocation that returned NULL (a failed realloc
//                   leaves its block as it was)
//   live_reuse      an allocation returned an address still live in the
//                   trace: the free that released it was not recorded; the
//                   old block is freed there
//   oversize        a block above kMaxSize (1 GiB): left out, and so are its
//                   reallocs and its free
//   align_clamped   an alignment above 64 KiB, recorded as 64 KiB
//   torn_bytes      bytes at the end of a file that are not a whole event
//                   (the process died while writing)
//   threads_folded  threads beyond kMaxThreads, merged into earlier streams
//                   (in global order, so the trace stays valid)
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "workloads/capture/capture_event.hpp"
#include "workloads/trace.hpp"

namespace alloclab::capture {

// One process image found in a capture directory: one with event files, or
// only its End file (it recorded events but none reached a file).
struct ProcessEvents {
  std::uint64_t pid = 0;
  std::uint64_t image = 0;
  std::uint64_t events = 0;        // whole events in its files
  std::vector<std::string> files;  // one per thread
  bool end_file = false;           // PID-IMAGE.end exists (a library that writes one)
  std::optional<End> end;          // its End record, when whole: the image got to its final flush

  // The image's End file is there but empty or short: it never got to its
  // final flush (SIGKILL, a handler of its own that left without exit), so
  // the events after its last full buffer are missing.
  bool unfinished() const { return end_file && !end; }
  // Events it made that are not in its files (0 when unknown).
  std::uint64_t lost() const { return end && end->made > events ? end->made - events : 0; }
};

// Lists the directory's processes, most events first. Throws
// std::runtime_error when the directory cannot be read.
std::vector<ProcessEvents> scan(const std::string& dir);

// How the image ended, as its End record says: "exit", "_exit(3)", "exec",
// "killed by SIGSEGV", "no final flush", or "" when there is no End file.
std::string describe_ending(const ProcessEvents& p);

struct ConvertStats {
  std::array<std::uint64_t, kCallKinds> calls{};  // indexed by Call
  std::uint64_t events = 0;
  std::uint64_t unknown_frees = 0;
  std::uint64_t failed = 0;
  std::uint64_t live_reuse = 0;
  std::uint64_t oversize = 0;
  std::uint64_t align_clamped = 0;
  std::uint64_t torn_bytes = 0;
  std::uint32_t threads = 0;  // threads seen, before folding
  std::uint32_t threads_folded = 0;

  std::uint64_t count(Call c) const { return calls[static_cast<std::size_t>(c)]; }
  nlohmann::json calls_json() const;
  nlohmann::json skipped_json() const;
};

struct Converted {
  trace::Trace trace;
  ConvertStats stats;
};

// Converts one process. `metadata` (an object) is extended with model
// "capture", pid, calls and skipped counts. Throws std::runtime_error when
// a file cannot be read.
Converted convert(const ProcessEvents& process, nlohmann::json metadata);

std::string_view call_name(Call c);

}  // namespace alloclab::capture
