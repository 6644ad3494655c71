// The base allocator: the worker process's malloc, whichever general
// allocator was preloaded (so STRATEGY@jemalloc takes its memory from
// jemalloc). Strategies get backing memory and serve fall-through
// allocations here.
#pragma once

#include <cstdlib>

#include "allocators/contract.hpp"

namespace alloclab {

// malloc guarantees only the alignment a block of this size could need
// (jemalloc and mimalloc hand out 8-aligned 8-byte blocks); anything more
// goes through posix_memalign, whose alignment must be at least a pointer's.
inline void* base_allocate(std::size_t size, std::size_t align) noexcept {
  if (align <= required_alignment(size, 1)) return std::malloc(size);
  void* p = nullptr;
  return ::posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align, size) == 0 ? p : nullptr;
}

// An allocation the strategy does not serve itself (outside any scope it
// manages, above its size classes): from the base, counted as fall-through,
// and as reserved and in-use bytes while it lives.
// Always inlined, as is the free below: left to GCC, whether the call in a
// strategy's allocate() is inlined into the replay loop depends on how much
// else the translation unit holds (its inlining budget is per unit), and
// slab@glibc's instructions per op on http-upload moved by 2% with changes
// to the worker that touched no strategy.
[[gnu::always_inline]] inline void* fallthrough_allocate(BackendStats& stats, std::size_t size, std::size_t align) noexcept {
  void* p = base_allocate(size, align);
  if (p == nullptr) {
    ++stats.failed_allocations;
    return nullptr;
  }
  ++stats.fallthrough_allocations;
  stats.in_use_bytes += size;
  stats.reserved_bytes += size;
  return p;
}

[[gnu::always_inline]] inline void fallthrough_deallocate(BackendStats& stats, void* p, std::size_t size) noexcept {
  if (p == nullptr) return;
  std::free(p);
  stats.in_use_bytes -= size;
  stats.reserved_bytes -= size;
}

}  // namespace alloclab
