// The binary trace file, version 1. All integers little-endian.
//
//   offset  size        field
//   0       8           magic "ALCTRACE"
//   8       4           version (1)
//   12      4           thread count T (1..1024)
//   16      4           slot count
//   20      4           scope count
//   24      4           edge count
//   28      4           metadata bytes M (at most 1 MiB)
//   32      8           op count N
//   40      8           reserved, zero
//   48      8 * T       ops per thread (they sum to N)
//   48+8T   M           metadata: one-line JSON object
//   ...     16 * N      ops, thread 0's stream first (struct Op)
//
// The file ends exactly after the last op. Reading checks the header against
// the file's size before allocating anything, then walks the ops
// (trace_check.hpp); every error names the byte offset.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "workloads/trace.hpp"
#include "workloads/trace_error.hpp"

namespace alloclab::trace {

inline constexpr char kMagic[8] = {'A', 'L', 'C', 'T', 'R', 'A', 'C', 'E'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kHeaderBytes = 48;

// Byte offset of op `index` of `thread` in t's binary encoding.
std::uint64_t op_offset(const Trace& t, std::uint32_t thread, std::uint64_t index);

// Parses and checks a whole file image. Throws TraceError.
Trace decode(std::span<const std::byte> bytes);
// Reads and checks a file. Throws TraceError (an unreadable file too).
Trace read_file(const std::string& path);

// Encodes without checking.
std::vector<std::byte> encode(const Trace& t);
// Writes atomically: a temporary file beside `path`, then rename. Throws
// WriteError on an I/O failure; nothing is left behind.
void write_file(const Trace& t, const std::string& path);

// Checks t (trace_check.hpp) and reports a fault as a TraceError at the
// op's byte offset.
void check_binary(const Trace& t);

}  // namespace alloclab::trace
