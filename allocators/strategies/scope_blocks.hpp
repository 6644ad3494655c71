// Blocks a scope takes from the process malloc because its own memory cannot
// serve them (a record's buffer overflowed, a scope that owns no region).
// They stay on an intrusive list owned by the scope, so closing the scope
// frees every one of them, and an early free is O(1) without knowing the
// owner.
//
// Layout: [padding | ScopeBlock | user bytes]; the header sits immediately
// before the pointer handed out, so the pointer alone finds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"

namespace alloclab::detail {

struct ScopeBlock {
  ScopeBlock* next;
  // The pointer that points at this block: the list head or the previous
  // block's next. Lets a block unlink itself.
  ScopeBlock** pprev;
  void* raw;              // what malloc/posix_memalign returned
  std::size_t raw_bytes;  // bytes taken upstream, header and padding included
  std::size_t size;       // bytes the caller asked for
};

// Takes size bytes aligned to `align` (already raised by required_alignment)
// from the process malloc and links them at the front of `head`. Returns the
// caller's pointer, or nullptr when the size cannot be represented or
// upstream memory is exhausted.
inline void* scope_block_alloc(ScopeBlock*& head, std::size_t size, std::size_t align) noexcept {
  std::size_t a = align < kMinAlign ? kMinAlign : align;
  std::size_t off = align_up(sizeof(ScopeBlock), a);
  if (size > std::numeric_limits<std::size_t>::max() / 2 - off) return nullptr;
  std::size_t bytes = off + size;
  void* raw = base_allocate(bytes, a);
  if (raw == nullptr) return nullptr;
  char* p = static_cast<char*>(raw) + off;
  auto* b = reinterpret_cast<ScopeBlock*>(p) - 1;
  *b = ScopeBlock{head, &head, raw, bytes, size};
  if (head) head->pprev = &b->next;
  head = b;
  return p;
}

// scope_block_alloc for an allocation the strategy does not serve itself:
// counted in stats as a fall-through, its upstream bytes as reserved.
inline void* scope_block_fallthrough(BackendStats& stats, ScopeBlock*& head, std::size_t size,
                                     std::size_t align) noexcept {
  void* p = scope_block_alloc(head, size, align);
  if (p == nullptr) {
    ++stats.failed_allocations;
    return nullptr;
  }
  ++stats.fallthrough_allocations;
  stats.in_use_bytes += size;
  stats.reserved_bytes += head->raw_bytes;
  return p;
}

inline ScopeBlock* scope_block_of(void* p) noexcept { return static_cast<ScopeBlock*>(p) - 1; }

// Unlinks b from whichever list holds it and frees it.
inline void scope_block_free(ScopeBlock* b) noexcept {
  *b->pprev = b->next;
  if (b->next) b->next->pprev = b->pprev;
  std::free(b->raw);
}

}  // namespace alloclab::detail
