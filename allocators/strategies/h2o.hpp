// h2o: the h2o_mem_pool_t request pool of the h2o HTTP server, over its
// per-thread chunk recycler. Modelled on h2o master (2.3.0-dev, commit
// edd7a120, 2026-06): lib/common/memory.c (h2o_mem__do_alloc_pool_aligned,
// h2o_mem_clear_pool, h2o_mem_alloc_recycle / h2o_mem_free_recycle /
// h2o_mem_clear_recycle), include/h2o/memory.h, and lib/core/util.c
// (h2o_cleanup_thread, which drives the recycler trim).
//
// Semantics kept:
//   - A chunk is 4096 bytes (sizeof(union un_h2o_mem_pool_chunk_t)); its
//     first word links it to the pool's older chunks, so 4088 bytes are
//     usable. Chunks come from the recycler (h2o_mem_pool_allocator, a
//     per-thread LIFO stack; here one per backend instance, i.e. one per
//     replay thread) and from malloc only when the recycler is empty.
//   - A request of (4096 - sizeof(void*)) / 4 = 1022 bytes or more goes
//     straight to malloc as a "direct" block with a 16-byte header, linked
//     to the pool and freed when the pool is cleared. (h2o 2.2.x used
//     sizeof(bytes) / 4 = 1020 with a 16-byte chunk header; the union layout
//     and the 1022 rule date from 2018, commit a8608281.)
//   - Only the newest chunk is tried: a request that does not fit in what is
//     left of it takes a new chunk, and the old chunk's tail is abandoned
//     (counted in wasted_bytes; every chunk after a pool's first is a spill).
//   - Clearing a pool (close_scope) frees its direct blocks and pushes its
//     chunks onto the recycler; no chunk goes upstream. Every ScopeKind opens
//     one pool; child pools still open are cleared with their parent.
//   - Recycler trimming is h2o_mem_clear_recycle(): the recycler tracks the
//     lowest number of chunks it held since the last trim (low watermark);
//     a partial trim frees ceil(watermark / 2) of them, so chunks idle for
//     a whole period are halved each period and reach zero without traffic;
//     a full trim (release_to_os) frees them all.
//   - deallocate within a pool is a no-op, as h2o has no per-object free.
//   - Unscoped allocations go to the base allocator (fall-through).
// Simplified:
//   - h2o runs the partial trim from a 1-second timer (h2o_cleanup_thread).
//     A replay has no clock, so it runs every trim_every pool clears instead.
//   - The recycler is an intrusive stack through the free chunks rather than
//     a growable vector of pointers (h2o reallocs the vector: not modelled).
//   - h2o aligns the offset within a chunk, relying on malloc's 16-byte
//     alignment; larger alignments are not supported there. Here addresses
//     are aligned, and a request whose worst-case padding cannot fit in a
//     fresh chunk becomes a direct block (posix_memalign).
//   - Refcounted shared blocks (h2o_mem_alloc_shared / h2o_mem_link_shared)
//     and h2o_buffer_t's power-of-two recycle bins are not modelled: the
//     contract has no reference counts, and buffers are a separate allocator.
//   - Direct blocks are counted as fall-through (they are plain malloc
//     calls), as well as in direct_allocations().
//   - h2o under ASan frees chunks instead of recycling them; this model always
//     recycles.
//
// Options:
//   max=N          chunks the recycler keeps; a cleared chunk beyond it is
//                  freed. Default unlimited (h2o master; h2o 2.2.x kept 16,
//                  lib/common/memory.c `mempool_allocator = {16}`).
//   trim_every=N   run the partial trim after every N pool clears; 0 = never
//                  (only release_to_os). Default 10000, our choice: h2o trims
//                  once a second, and 10^4 requests a second is the order of
//                  one loaded h2o worker thread.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <limits>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"
#include "allocators/strategies/scope_tree.hpp"

namespace alloclab {

class alignas(64) H2oBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = false, .scoped = true, .thread_safe = false};

  // sizeof(union un_h2o_mem_pool_chunk_t).
  static constexpr std::size_t kChunkSize = 4096;
  // The chunk's link to the next older chunk of its pool.
  static constexpr std::size_t kChunkHeader = sizeof(void*);
  // Requests of at least this many bytes are direct mallocs.
  static constexpr std::size_t kDirectThreshold = (kChunkSize - kChunkHeader) / 4;
  // st_h2o_mem_pool_direct_t's header: next + padding to 2 words.
  static constexpr std::size_t kDirectHeader = 2 * sizeof(void*);

 private:
  union Chunk {
    Chunk* next;  // older chunk of the same pool, or next chunk in the recycler
    char bytes[kChunkSize];
  };
  static_assert(sizeof(Chunk) == kChunkSize);

  // Precedes every direct block; lies in the kDirectHeader bytes just below
  // the block handed out.
  struct Direct {
    Direct* next;  // older direct block of the same pool
    void* base;    // what malloc/posix_memalign returned, for free()
  };
  static_assert(sizeof(Direct) == kDirectHeader);

  // One h2o_mem_pool_t plus the scope tree. Invariants: cur <= end; both are
  // null until the pool takes its first chunk, then [cur, end) is the free
  // tail of `chunks` (the newest chunk). Descriptors are recycled through
  // free_pools_ (linked by next_sibling).
  struct Pool {
    char* cur;
    char* end;
    Chunk* chunks;        // newest first
    Direct* directs;      // newest first
    Pool* parent;
    Pool* child;          // most recently opened child still open
    Pool* prev_sibling;   // siblings under the same parent (or top level)
    Pool* next_sibling;
    std::uint64_t used;          // bytes handed out (requested sizes)
    std::uint64_t direct_bytes;  // bytes held by `directs`, headers included
  };

 public:
  using Scope = Pool*;

  H2oBackend() : H2oBackend(BackendOptions{}) {}
  explicit H2oBackend(const BackendOptions& opts)
      : max_recycled_(opts.count("max", std::numeric_limits<std::uint64_t>::max())),
        trim_every_(opts.count("trim_every", 10000)) {}
  H2oBackend(const H2oBackend&) = delete;
  H2oBackend& operator=(const H2oBackend&) = delete;
  ~H2oBackend() {
    while (top_) close_scope(top_);
    release_to_os();
  }

  // --- unscoped: the base allocator ---------------------------------------
  void* allocate(std::size_t size, std::size_t align) noexcept {
    return fallthrough_allocate(stats_, size, align);
  }
  void deallocate(void* p, std::size_t size, std::size_t) noexcept {
    fallthrough_deallocate(stats_, p, size);
  }

  // --- pools -----------------------------------------------------------------
  // h2o_mem_init_pool: O(1), takes no chunk until the first allocation.
  Scope open_scope(ScopeKind, Scope parent) {
    Pool* p = free_pools_;
    if (p != nullptr) {
      free_pools_ = p->next_sibling;
    } else {
      p = static_cast<Pool*>(std::malloc(sizeof(Pool)));
      if (p == nullptr) {
        ++stats_.failed_allocations;
        return nullptr;
      }
      stats_.reserved_bytes += sizeof(Pool);
    }
    *p = Pool{nullptr, nullptr, nullptr, nullptr, parent, nullptr, nullptr, nullptr, 0, 0};
    Pool*& head = parent ? parent->child : top_;
    link_scope(head, p);
    return p;
  }

  // h2o_mem_alloc_pool_aligned.
  void* allocate(Scope s, std::size_t size, std::size_t align) noexcept {
    std::size_t a = required_alignment(size, align);
    if (size >= kDirectThreshold) [[unlikely]] return allocate_direct(s, size, a);
    std::size_t n = size == 0 ? 1 : size;  // h2o: a valid pointer for size 0
    auto p = reinterpret_cast<std::uintptr_t>(s->cur);
    std::uintptr_t q = (p + a - 1) & ~(std::uintptr_t{a} - 1);
    auto end = reinterpret_cast<std::uintptr_t>(s->end);
    if (q <= end && n <= end - q) [[likely]] {
      s->cur = reinterpret_cast<char*>(q + n);
      s->used += size;
      stats_.in_use_bytes += size;
      return reinterpret_cast<void*>(q);
    }
    return allocate_in_new_chunk(s, size, n, a);
  }

  void deallocate(Scope, void*, std::size_t, std::size_t) noexcept {}

  // h2o_mem_clear_pool, then the descriptor is recycled.
  void close_scope(Scope s) noexcept {
    while (s->child) close_scope(s->child);
    Pool*& head = s->parent ? s->parent->child : top_;
    unlink_scope(head, s);
    for (Direct* d = s->directs; d != nullptr;) {
      Direct* next = d->next;
      std::free(d->base);
      d = next;
    }
    stats_.reserved_bytes -= s->direct_bytes;
    for (Chunk* c = s->chunks; c != nullptr;) {
      Chunk* next = c->next;
      free_recycle(c);
      c = next;
    }
    stats_.in_use_bytes -= s->used;
    s->next_sibling = free_pools_;
    free_pools_ = s;
    if (trim_every_ != 0 && ++clears_since_trim_ >= trim_every_) {
      clears_since_trim_ = 0;
      trim();
    }
  }

  // h2o_mem_clear_recycle(allocator, 0): frees ceil(low watermark / 2) of
  // the recycled chunks and restarts the watermark at what remains.
  void trim() noexcept {
    std::uint64_t delta = (low_watermark_ + 1) / 2;
    low_watermark_ = recycled_ - delta;
    while (recycled_ > low_watermark_) free_one_recycled();
  }

  // h2o_mem_clear_recycle(allocator, 1), plus the spare pool descriptors.
  void release_to_os() {
    low_watermark_ = 0;
    while (recycled_ > 0) free_one_recycled();
    while (free_pools_) {
      Pool* p = free_pools_;
      free_pools_ = p->next_sibling;
      std::free(p);
      stats_.reserved_bytes -= sizeof(Pool);
    }
  }

  BackendStats stats() const { return stats_; }

  // Introspection for tests and reports.
  std::uint64_t recycled_chunks() const noexcept { return recycled_; }
  std::uint64_t low_watermark() const noexcept { return low_watermark_; }
  // Chunks taken from malloc (recycler empty) since construction.
  std::uint64_t upstream_chunk_allocations() const noexcept { return upstream_chunks_; }
  std::uint64_t direct_allocations() const noexcept { return directs_; }

 private:
  // h2o_mem_alloc_recycle.
  Chunk* alloc_recycle() noexcept {
    if (recycled_ == 0) {
      auto* c = static_cast<Chunk*>(std::malloc(sizeof(Chunk)));
      if (c == nullptr) return nullptr;
      ++upstream_chunks_;
      stats_.reserved_bytes += sizeof(Chunk);
      return c;
    }
    Chunk* c = recycler_;
    recycler_ = c->next;
    --recycled_;
    if (low_watermark_ > recycled_) low_watermark_ = recycled_;
    return c;
  }

  // h2o_mem_free_recycle, with h2o 2.2's cap when max= is given.
  void free_recycle(Chunk* c) noexcept {
    if (recycled_ >= max_recycled_) {
      std::free(c);
      stats_.reserved_bytes -= sizeof(Chunk);
      return;
    }
    c->next = recycler_;
    recycler_ = c;
    ++recycled_;
  }

  void free_one_recycled() noexcept {
    Chunk* c = recycler_;
    recycler_ = c->next;
    --recycled_;
    std::free(c);
    stats_.reserved_bytes -= sizeof(Chunk);
  }

  void* allocate_in_new_chunk(Scope s, std::size_t size, std::size_t n, std::size_t a) noexcept {
    // Worst-case padding after the link word in a 16-byte aligned chunk.
    if (n + a + kChunkHeader > kChunkSize) return allocate_direct(s, size, a);
    Chunk* c = alloc_recycle();
    if (c == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    if (s->chunks != nullptr) {
      ++stats_.spills;
      stats_.wasted_bytes += static_cast<std::uint64_t>(s->end - s->cur);
    }
    c->next = s->chunks;
    s->chunks = c;
    auto base = reinterpret_cast<std::uintptr_t>(c->bytes + kChunkHeader);
    std::uintptr_t q = (base + a - 1) & ~(std::uintptr_t{a} - 1);
    s->cur = reinterpret_cast<char*>(q + n);
    s->end = c->bytes + kChunkSize;
    s->used += size;
    stats_.in_use_bytes += size;
    return reinterpret_cast<void*>(q);
  }

  void* allocate_direct(Scope s, std::size_t size, std::size_t a) noexcept {
    if (size > std::numeric_limits<std::size_t>::max() / 2) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    void* base = nullptr;
    std::size_t total;
    char* block;
    if (a <= kDirectHeader) {
      total = kDirectHeader + size;
      base = std::malloc(total);
      block = static_cast<char*>(base) + kDirectHeader;
    } else {
      total = a + size;
      if (::posix_memalign(&base, a, total) != 0) base = nullptr;
      block = static_cast<char*>(base) + a;
    }
    if (base == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    auto* d = reinterpret_cast<Direct*>(block - kDirectHeader);
    d->next = s->directs;
    d->base = base;
    s->directs = d;
    s->direct_bytes += total;
    s->used += size;
    ++directs_;
    ++stats_.fallthrough_allocations;
    stats_.reserved_bytes += total;
    stats_.in_use_bytes += size;
    return block;
  }

  std::uint64_t max_recycled_;
  std::uint64_t trim_every_;
  std::uint64_t clears_since_trim_ = 0;
  // The recycler: a LIFO stack of free chunks. Invariant:
  // low_watermark_ <= recycled_ == length of the recycler_ list.
  Chunk* recycler_ = nullptr;
  std::uint64_t recycled_ = 0;
  std::uint64_t low_watermark_ = 0;
  std::uint64_t upstream_chunks_ = 0;
  std::uint64_t directs_ = 0;
  Pool* free_pools_ = nullptr;
  Pool* top_ = nullptr;
  BackendStats stats_;
};

static_assert(ScopedBackend<H2oBackend>);
static_assert(HasStats<H2oBackend>);
static_assert(ReleasesToOs<H2oBackend>);

}  // namespace alloclab
