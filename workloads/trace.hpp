// The allocation trace: what a replay executes. Slots instead of pointers
// (the idea of glibc's trace2wl), one op stream per thread, explicit sync
// edges so that a free on one thread of a block allocated on another happens
// in order, and scopes (connection, request, nested child) so region
// allocators can replay it.
//
// Semantics (checked by trace_check.hpp; the binary layout is in
// trace_binary.hpp and workloads/FORMAT.md):
//   alloc   slot size [align] [scope]  the slot must be free; a scoped block
//                                      is allocated on its scope's thread
//   free    slot                       the slot must be live
//   release slot                       a free done by closing the block's
//                                      scope: the run of releases right
//                                      before `close S` names every block of
//                                      S still live. Region allocators skip
//                                      them; general allocators free them.
//   realloc slot size                  the slot must be live
//   open    scope kind [parent]        each scope opens once; the parent is
//                                      open on the same thread
//   close   scope                      no live block, no open child
//   signal  edge / wait edge           each edge is signalled once and waited
//                                      once; wait blocks until the signal
//   think   ns                         the thread pauses (no allocator call)
// A block touched on two threads must be ordered by edges (happens-before).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace alloclab::trace {

enum class OpKind : std::uint8_t {
  alloc = 1,
  free = 2,
  release = 3,
  realloc = 4,
  open = 5,
  close = 6,
  signal = 7,
  wait = 8,
  think = 9,
};

enum class ScopeKind : std::uint16_t { connection = 0, request = 1, child = 2 };

inline constexpr std::uint32_t kNoScope = 0;  // Op::c of an unscoped alloc

// One operation, 16 bytes, the same in memory and on disk (little-endian).
// Fields an op does not use are zero.
struct Op {
  OpKind kind{};
  std::uint8_t align_log2 = 0;  // alloc: 0 = default alignment, else 1 << n
  std::uint16_t aux = 0;        // open: ScopeKind
  std::uint32_t a = 0;          // slot, scope or edge id
  std::uint32_t b = 0;          // alloc/realloc: size; think: nanoseconds
  std::uint32_t c = 0;          // alloc: scope id + 1 (0: none); open: parent + 1

  friend bool operator==(const Op&, const Op&) = default;

  std::uint32_t slot() const { return a; }
  std::uint32_t size() const { return b; }
  std::size_t alignment() const { return align_log2 == 0 ? 0 : std::size_t{1} << align_log2; }
  bool scoped() const { return c != kNoScope; }
  std::uint32_t scope() const { return c - 1; }  // alloc in a scope / open with a parent
};
static_assert(sizeof(Op) == 16);

// Hard limits: a file past them is refused, so no header can make the
// reader allocate without bound.
inline constexpr std::uint32_t kMaxThreads = 1024;
inline constexpr std::uint32_t kMaxSize = 1u << 30;        // 1 GiB per block
inline constexpr std::uint8_t kMaxAlignLog2 = 16;          // 64 KiB
inline constexpr std::uint32_t kMaxThinkNs = 1'000'000'000;  // 1 s
inline constexpr std::uint32_t kMaxMetadataBytes = 1u << 20;

struct Trace {
  std::uint32_t slot_count = 0;
  std::uint32_t scope_count = 0;
  std::uint32_t edge_count = 0;
  // JSON object, one line: model, seed, parameters (or capture details).
  std::string metadata = "{}";
  std::vector<std::vector<Op>> threads;

  std::uint64_t op_count() const {
    std::uint64_t n = 0;
    for (const auto& t : threads) n += t.size();
    return n;
  }
  friend bool operator==(const Trace&, const Trace&) = default;
};

std::string_view kind_name(OpKind k);
std::string_view scope_kind_name(ScopeKind k);

// Alignment as the op stores it: 0 for default, else log2 (align must be a
// power of two, at most 1 << kMaxAlignLog2).
std::uint8_t align_log2_of(std::size_t align);

}  // namespace alloclab::trace
