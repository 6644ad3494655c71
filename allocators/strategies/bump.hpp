// bump: a request-lifetime arena (seeds/001 "Bump Allocators" and its Tier 1
// "Request-Lifetime Arena": 8 KiB per request, O(1) reset).
//
// Semantics kept:
//   - Each scope is an arena: allocation bumps a pointer inside the current
//     chunk; there is no individual free (deallocate within a scope is a
//     no-op).
//   - A scope that outgrows its chunk chains a new one (a "spill"); the bytes
//     left at the end of the old chunk are counted as wasted. A new chunk is
//     first_chunk bytes, or larger when one allocation needs more.
//   - Closing a scope resets it in O(1): its chain of standard-size chunks is
//     spliced onto the backend's free-chunk list for the next scope to reuse,
//     as a per-worker arena is reset between requests. Only oversized chunks
//     (a single allocation larger than first_chunk) go back upstream one by
//     one. Child scopes still open are closed with their parent.
//   - Allocations outside any scope go to the base allocator (fall-through).
//   - Waste is counted in parts: padding between objects (padding_bytes,
//     against scoped_bytes requested), chunk tails left at spills
//     (wasted_bytes), blocks freed inside a scope that the arena cannot
//     reuse (freed_in_scope_bytes), and chunks retained for reuse
//     (reserved_bytes once every scope has closed).
// Simplified: the free-chunk list is unbounded unless retain= caps it; real
// arenas usually keep exactly one buffer per worker.
//
// Options: first_chunk=SIZE (default 8k), retain=N chunks kept for reuse
// (default unlimited).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <limits>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"
#include "allocators/strategies/scope_tree.hpp"

namespace alloclab {

class alignas(64) BumpBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = false, .scoped = true, .thread_safe = false};

 private:
  struct Chunk {
    Chunk* next;       // older chunk of the same scope, or next free chunk
    std::size_t size;  // bytes including this header
  };
  struct Arena {
    char* cur;             // next free byte in the current chunk
    char* end;             // one past the current chunk
    Chunk* chunks;         // current chunk first; the first chunk holds this Arena
    Chunk* last;           // first chunk of the chain (tail), for O(1) splicing
    Arena* parent;
    Arena* child;          // most recently opened child still open
    Arena* prev_sibling;   // siblings under the same parent
    Arena* next_sibling;
    char* start;           // first usable byte of the current chunk
    std::uint64_t spent;   // bytes consumed in this scope's earlier chunks (padding included, tails not)
    std::uint64_t used;    // bytes handed out in this scope (requested sizes)
    std::uint32_t nchunks; // chunks in the chain
    bool has_oversized;    // the chain holds a chunk larger than first_chunk
  };

 public:
  using Scope = Arena*;

  BumpBackend() : BumpBackend(BackendOptions{}) {}
  explicit BumpBackend(const BackendOptions& opts)
      : first_chunk_(opts.size("first_chunk", 8192)),
        retain_(opts.count("retain", std::numeric_limits<std::uint64_t>::max())) {
    if (first_chunk_ < sizeof(Chunk) + sizeof(Arena) + 64) first_chunk_ = sizeof(Chunk) + sizeof(Arena) + 64;
  }
  BumpBackend(const BumpBackend&) = delete;
  BumpBackend& operator=(const BumpBackend&) = delete;
  ~BumpBackend() {
    while (top_) close_scope(top_);
    while (free_chunks_) {
      Chunk* c = free_chunks_;
      free_chunks_ = c->next;
      std::free(c);
    }
  }

  // --- unscoped: the base allocator ---------------------------------------
  void* allocate(std::size_t size, std::size_t align) noexcept {
    return fallthrough_allocate(stats_, size, align);
  }
  void deallocate(void* p, std::size_t size, std::size_t) noexcept {
    fallthrough_deallocate(stats_, p, size);
  }

  // --- scopes ----------------------------------------------------------------
  Scope open_scope(ScopeKind, Scope parent) {
    Chunk* c = take_chunk(sizeof(Arena) + alignof(std::max_align_t));
    if (c == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    auto* a = reinterpret_cast<Arena*>(c + 1);
    *a = Arena{reinterpret_cast<char*>(a + 1), reinterpret_cast<char*>(c) + c->size, c, c,
               parent, nullptr, nullptr, nullptr, reinterpret_cast<char*>(a + 1), 0, 0, 1, c->size != first_chunk_};
    Arena*& head = parent ? parent->child : top_;
    link_scope(head, a);
    return a;
  }

  void* allocate(Scope s, std::size_t size, std::size_t align) noexcept {
    std::size_t a = required_alignment(size, align);
    auto p = reinterpret_cast<std::uintptr_t>(s->cur);
    std::uintptr_t q = (p + a - 1) & ~(std::uintptr_t{a} - 1);
    auto end = reinterpret_cast<std::uintptr_t>(s->end);
    if (q <= end && size <= end - q) [[likely]] {
      s->cur = reinterpret_cast<char*>(q + size);
      s->used += size;
      return reinterpret_cast<void*>(q);
    }
    return allocate_slow(s, size, a);
  }

  // An arena cannot reuse a freed block before its scope closes: counted.
  void deallocate(Scope, void*, std::size_t size, std::size_t) noexcept { stats_.freed_in_scope_bytes += size; }

  void close_scope(Scope s) noexcept {
    while (s->child) close_scope(s->child);
    // The scope's padding: what it consumed of its chunks beyond what it handed out.
    stats_.scoped_bytes += s->used;
    stats_.padding_bytes += s->spent + static_cast<std::uint64_t>(s->cur - s->start) - s->used;
    Arena*& head = s->parent ? s->parent->child : top_;
    unlink_scope(head, s);
    Chunk* chain = s->chunks;
    if (s->has_oversized || s->nchunks > retain_ - retained_) {
      // Slow path: oversized chunks go back upstream; standard ones are
      // kept while the retention cap allows.
      while (chain) {
        Chunk* next = chain->next;
        give_back(chain);
        chain = next;
      }
      return;
    }
    // O(1): splice the whole chain onto the free list. (s lives in the
    // chain's first chunk, so it is not touched after this.)
    s->last->next = free_chunks_;
    free_chunks_ = chain;
    retained_ += s->nchunks;
  }

  // in_use_bytes: the fall-through bytes plus what every open scope has
  // handed out (kept per scope only, so allocate updates one counter).
  BackendStats stats() const {
    BackendStats st = stats_;
    add_open_scopes(top_, st.in_use_bytes);
    return st;
  }

  void release_to_os() {
    while (free_chunks_) {
      Chunk* c = free_chunks_;
      free_chunks_ = c->next;
      stats_.reserved_bytes -= c->size;
      std::free(c);
    }
    retained_ = 0;
  }

  std::size_t first_chunk() const noexcept { return first_chunk_; }

 private:
  Chunk* take_chunk(std::size_t need) noexcept {
    std::size_t size = first_chunk_;
    if (need + sizeof(Chunk) > size) {
      size = align_up(need + sizeof(Chunk), 4096);
    } else if (free_chunks_) {
      Chunk* c = free_chunks_;
      free_chunks_ = c->next;
      --retained_;
      c->next = nullptr;
      return c;
    }
    auto* c = static_cast<Chunk*>(std::malloc(size));
    if (c == nullptr) return nullptr;
    c->next = nullptr;
    c->size = size;
    stats_.reserved_bytes += size;
    return c;
  }

  void give_back(Chunk* c) noexcept {
    if (c->size == first_chunk_ && retained_ < retain_) {
      c->next = free_chunks_;
      free_chunks_ = c;
      ++retained_;
      return;
    }
    stats_.reserved_bytes -= c->size;
    std::free(c);
  }

  void* allocate_slow(Scope s, std::size_t size, std::size_t align) noexcept {
    if (size > std::numeric_limits<std::size_t>::max() / 2 || align > first_chunk_) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    Chunk* c = take_chunk(size + align);
    if (c == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    stats_.wasted_bytes += static_cast<std::uint64_t>(s->end - s->cur);
    s->spent += static_cast<std::uint64_t>(s->cur - s->start);
    ++stats_.spills;
    c->next = s->chunks;
    s->chunks = c;
    ++s->nchunks;
    if (c->size != first_chunk_) s->has_oversized = true;
    auto base = reinterpret_cast<std::uintptr_t>(c + 1);
    std::uintptr_t q = (base + align - 1) & ~(std::uintptr_t{align} - 1);
    s->start = reinterpret_cast<char*>(c + 1);
    s->cur = reinterpret_cast<char*>(q + size);
    s->end = reinterpret_cast<char*>(c) + c->size;
    s->used += size;
    return reinterpret_cast<void*>(q);
  }

  static void add_open_scopes(const Arena* a, std::uint64_t& sum) noexcept {
    for (; a; a = a->next_sibling) {
      sum += a->used;
      add_open_scopes(a->child, sum);
    }
  }

  std::size_t first_chunk_;
  std::uint64_t retain_;
  std::uint64_t retained_ = 0;
  Chunk* free_chunks_ = nullptr;
  Arena* top_ = nullptr;
  // Waste told apart (seeds/001 "0% waste" is about padding).
  BackendStats stats_ = [] {
    BackendStats st;
    st.scoped_bytes = 0;
    st.padding_bytes = 0;
    st.freed_in_scope_bytes = 0;
    return st;
  }();
};

static_assert(ScopedBackend<BumpBackend>);
static_assert(HasStats<BumpBackend>);

}  // namespace alloclab
