// libFuzzer target for the trace reader (scripts/fuzz.sh builds and runs it).
// Any input must either be rejected with a TraceError or be a valid trace;
// a valid one must survive analysis and both round trips byte for byte.
// A crash, a hang, a sanitizer report or an allocation past libFuzzer's
// -rss_limit_mb is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "workloads/trace_binary.hpp"
#include "workloads/trace_info.hpp"
#include "workloads/trace_text.hpp"

using namespace alloclab::trace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  Trace t;
  try {
    t = decode(bytes);
  } catch (const TraceError&) {
    // Also feed the same bytes to the text reader: it must be as robust.
    try {
      from_text(std::string_view(reinterpret_cast<const char*>(data), size));
    } catch (const TraceError&) {
    }
    return 0;
  }
  analyze(t);
  auto again = encode(t);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) std::abort();
  if (!(from_text(to_text(t)) == t)) std::abort();
  return 0;
}
