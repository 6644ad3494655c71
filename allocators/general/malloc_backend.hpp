// MallocBackend: the process's own malloc as a backend.
//
// glibc, jemalloc, mimalloc, tcmalloc and any preload:/path/lib.so are all
// this one type: which allocator answers depends on what the worker process
// preloaded, and the worker verifies that before it measures
// (general/library.hpp). Alignments beyond what malloc guarantees for the
// size go through posix_memalign, as a server asking for them would.
#pragma once

#include <cstdlib>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/general/library.hpp"

namespace alloclab {

class MallocBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = true, .scoped = false, .thread_safe = true};

  void* allocate(std::size_t size, std::size_t align) noexcept {
    return base_allocate(size, align);
  }

  void deallocate(void* p, std::size_t, std::size_t) noexcept { std::free(p); }

  void release_to_os() { release_free_memory(); }
};

static_assert(Backend<MallocBackend>);
static_assert(ReleasesToOs<MallocBackend>);

}  // namespace alloclab
