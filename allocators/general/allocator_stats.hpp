// The process allocator's own account of its memory: how many bytes it holds
// for the heap, and how many the application has allocated, read through the
// library's own statistics API (mallinfo2, jemalloc's mallctl "stats.*",
// mi_process_info, tcmalloc's MallocExtension_GetNumericProperty).
//
// The library is the one answering malloc in this process, found the way
// library.hpp finds it: a statistics entry point counts only when the object
// that defines it also defines malloc. Under a sanitizer, which replaces
// malloc itself, the family reads "unknown" and every counter 0.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace alloclab {

// One reading of the process allocator's own counters.
struct AllocatorCounters {
  // "glibc", "jemalloc", "mimalloc", "tcmalloc", or "unknown".
  std::string family;
  // Bytes of memory the allocator holds for the heap right now, in use or
  // kept free for reuse (Johnstone & Wilson's "memory used by the
  // allocator"); 0 if unknown. Per family (why: allocator_stats.cpp):
  //   glibc     mallinfo2 arena + hblkhd
  //   jemalloc  stats.resident
  //   mimalloc  current_commit
  //   tcmalloc  generic.heap_size - tcmalloc.pageheap_unmapped_bytes
  std::uint64_t heap_bytes = 0;
  // Bytes the application has allocated and not freed, as the allocator
  // counts them (size classes and headers included where the library counts
  // them); 0 if it cannot say. mimalloc release builds keep no such counter,
  // so it is always 0 there.
  std::uint64_t allocated_bytes = 0;
  // Bytes held in per-thread caches, for the families that report them
  // (tcmalloc: tcmalloc.current_total_thread_cache_bytes); kNotReported
  // otherwise.
  static constexpr std::uint64_t kNotReported = ~std::uint64_t{0};
  std::uint64_t thread_cache_bytes = kNotReported;
  // Every raw counter read, by the library's own name, in reading order.
  // Empty when the family is unknown or its statistics are compiled out.
  std::vector<std::pair<std::string, std::uint64_t>> raw;
};

// Reads the counters of the allocator answering malloc. Thread-safe. The
// library's entry points are resolved once per process. Every counter is read
// before the result allocates its strings, so the reading does not count its
// own allocations.
//
// Cost of one call, median of 1000 on a 2-core AMD EPYC VM, Release, small
// heap (`allocator_stats_probe cost 1000`): glibc 0.4 us, mimalloc 0.8-1.0 us
// (one getrusage), tcmalloc 2.4-3.3 us (two passes over all size classes and
// thread caches), jemalloc 8.7 us (the "epoch" refresh alone is 6.2 us).
// glibc's cost grows with the heap's free chunks, which mallinfo2 walks while
// holding each arena's lock: 2.3 us at 850 free chunks, 36 us at 10k, 0.9 ms
// at 100k. A few hundred calls per run stay far below a run's length, but on a
// fragmented glibc heap do not call it per operation.
AllocatorCounters read_allocator_counters();

}  // namespace alloclab
