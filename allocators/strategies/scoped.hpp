// scoped: the RequestScope of seeds/000 ("Request Scoped Memory", the
// nebula-memory design note of 2025-08-19, nebula_memory::patterns::
// RequestScope): an arena per request with a memory limit, nested scopes, and
// bulk release when the scope drops. The seed is a design document with Rust
// sketches; no implementation was published with it, so every figure below
// is the seed's own.
//
// Semantics kept:
//   - A scope is an arena (the seed's LocalArena): allocation bumps a pointer,
//     deallocate is a no-op, and closing the scope releases everything at
//     once ("Deallocation O(1): bulk deallocation on scope drop"). An arena
//     that outgrows its chunk chains another (counted in spills; the tail left
//     behind in wasted_bytes).
//   - Memory limit: a request scope carries a budget of `limit` bytes charged
//     with the requested size of each allocation (RequestScope::alloc adds
//     size_of::<T>() to `allocations`, not arena bytes). An allocation that
//     would cross the budget fails cleanly with nullptr, as the seed's
//     try_alloc does (Best Practices 3: LimitExceeded -> 413). The request is
//     counted once in rejections however many of its allocations were
//     refused; a later allocation that still fits is served.
//   - Nested scopes (create_nested): a child scope has its own arena of
//     nested_chunk bytes and is charged to the budget of the request it is
//     nested in. Closing a child returns its bytes to that budget; closing a
//     request closes its children still open.
//   - Allocations outside any scope go to the base allocator (fall-through).
// Mapping decisions (the seed has only requests and nested scopes):
//   - A connection scope is an unlimited arena of nested_chunk chunks (the
//     seed's server-wide state has no limit); its children are unlimited too.
//     A request opened inside a connection, or inside another request, has a
//     budget of its own.
// Simplified:
//   - The seed's check_limits tests `used > memory_limit` before adding, so
//     it admits the allocation that crosses the limit and then panics on the
//     next one; here the crossing allocation is refused and nothing aborts.
//   - The seed's timeout, per-request object pool (LocalPool::new(50)) and
//     pressure handler are not modelled.
//   - Arena chunks come from the process malloc and are kept on free lists
//     for the next scope (the global arena that sub-arenas are carved from);
//     a chunk larger than standard (one allocation bigger than a chunk) goes
//     back upstream when its scope closes. release_to_os() empties the lists.
//
// Options (defaults from seeds/000):
//   limit=SIZE        budget per request, default 1m: the example handler's
//                     sub-arena, global_arena.create_sub_arena(1024 * 1024).
//                     RequestScope::new() itself sets memory_limit to
//                     10 * 1024 * 1024 (limit=10m); the gRPC example uses 5 MB.
//   chunk=SIZE        request arena chunk, default 512k: RequestScope::new()'s
//                     LocalArena::new(512 * 1024).
//   nested_chunk=SIZE child and connection arena chunk, default 64k:
//                     create_nested()'s LocalArena::new(64 * 1024).
// The class is not called ScopedBackend: that name is the contract's concept.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <limits>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"
#include "allocators/strategies/scope_tree.hpp"

namespace alloclab {

class alignas(64) RequestScopeBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = false, .scoped = true, .thread_safe = false};

 private:
  struct Chunk {
    Chunk* next;       // older chunk of the same arena, or next free chunk
    std::size_t size;  // bytes including this header
  };
  struct Node {
    char* cur;  // next free byte in the current chunk
    char* end;  // one past the current chunk
    // Current chunk first; the last chunk of the chain holds this Node.
    Chunk* chunks;
    Node* parent;
    Node* child;  // most recently opened child still open
    Node* prev_sibling;
    Node* next_sibling;
    // The request whose limit this scope is charged against (itself for a
    // request); nullptr: unlimited.
    Node* budget;
    std::uint64_t used;     // requested bytes handed out in this scope itself
    // Budget holders only: bytes charged by this scope and its open
    // descendants. Invariant: charged <= limit.
    std::uint64_t charged;
    std::size_t chunk_size;  // standard chunk size of this arena
    bool rejected;           // budget holders: already counted in rejections
  };

 public:
  using Scope = Node*;

  RequestScopeBackend() : RequestScopeBackend(BackendOptions{}) {}
  explicit RequestScopeBackend(const BackendOptions& opts)
      : limit_(opts.size("limit", 1024 * 1024)),
        chunk_(opts.size("chunk", 512 * 1024)),
        nested_chunk_(opts.size("nested_chunk", 64 * 1024)) {
    constexpr std::size_t kMinChunk = sizeof(Chunk) + sizeof(Node) + 64;
    if (chunk_ < kMinChunk) chunk_ = kMinChunk;
    if (nested_chunk_ < kMinChunk) nested_chunk_ = kMinChunk;
  }
  RequestScopeBackend(const RequestScopeBackend&) = delete;
  RequestScopeBackend& operator=(const RequestScopeBackend&) = delete;
  ~RequestScopeBackend() {
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

  // --- scopes ----------------------------------------------------------------
  Scope open_scope(ScopeKind kind, Scope parent) {
    std::size_t standard = kind == ScopeKind::request ? chunk_ : nested_chunk_;
    Chunk* c = take_chunk(standard, sizeof(Node) + kMinAlign);
    if (c == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    auto* n = reinterpret_cast<Node*>(c + 1);
    Node* budget = kind == ScopeKind::request ? n : (parent ? parent->budget : nullptr);
    *n = Node{reinterpret_cast<char*>(n + 1), reinterpret_cast<char*>(c) + c->size, c,
              parent, nullptr, nullptr, nullptr, budget, 0, 0, standard, false};
    Node*& head = parent ? parent->child : top_;
    link_scope(head, n);
    return n;
  }

  void* allocate(Scope s, std::size_t size, std::size_t align) noexcept {
    Node* b = s->budget;
    if (b != nullptr && size > limit_ - b->charged) [[unlikely]] return refuse(b);
    std::size_t a = required_alignment(size, align);
    std::size_t n = size == 0 ? 1 : size;  // distinct pointers for size 0
    auto p = reinterpret_cast<std::uintptr_t>(s->cur);
    std::uintptr_t q = (p + a - 1) & ~(std::uintptr_t{a} - 1);
    auto end = reinterpret_cast<std::uintptr_t>(s->end);
    if (q <= end && n <= end - q) [[likely]] {
      s->cur = reinterpret_cast<char*>(q + n);
      charge(s, b, size);
      return reinterpret_cast<void*>(q);
    }
    return allocate_slow(s, size, n, a);
  }

  // An arena frees nothing early.
  void deallocate(Scope, void*, std::size_t, std::size_t) noexcept {}

  void close_scope(Scope s) noexcept {
    while (s->child) close_scope(s->child);
    Node*& head = s->parent ? s->parent->child : top_;
    unlink_scope(head, s);
    stats_.in_use_bytes -= s->used;
    if (s->budget != nullptr) s->budget->charged -= s->used;
    // s lives in the last chunk of the chain: nothing reads it after this.
    Chunk* c = s->chunks;
    while (c) {
      Chunk* next = c->next;
      give_back(c);
      c = next;
    }
  }

  BackendStats stats() const { return stats_; }

  void release_to_os() {
    for (Chunk*& list : free_) {
      while (list) {
        Chunk* c = list;
        list = c->next;
        stats_.reserved_bytes -= c->size;
        std::free(c);
      }
    }
  }

  // Bytes charged against the budget s is charged to (0 when unlimited).
  std::uint64_t charged(Scope s) const noexcept { return s->budget ? s->budget->charged : 0; }
  std::uint64_t limit() const noexcept { return limit_; }
  std::size_t chunk() const noexcept { return chunk_; }
  std::size_t nested_chunk() const noexcept { return nested_chunk_; }

 private:
  void charge(Node* s, Node* b, std::size_t size) noexcept {
    s->used += size;
    if (b != nullptr) b->charged += size;
    stats_.in_use_bytes += size;
  }

  void* refuse(Node* b) noexcept {
    ++stats_.failed_allocations;
    if (!b->rejected) {
      b->rejected = true;
      ++stats_.rejections;
    }
    return nullptr;
  }

  // The free list that keeps chunks of `size` bytes, or nullptr when chunks
  // of that size are not kept.
  Chunk** list_for(std::size_t size) noexcept {
    if (size == chunk_) return &free_[0];
    if (size == nested_chunk_) return &free_[1];
    return nullptr;
  }

  // A chunk of the standard size when `need` bytes fit after its header,
  // else a page-rounded chunk of its own.
  Chunk* take_chunk(std::size_t standard, std::size_t need) noexcept {
    std::size_t size = standard;
    if (need > standard - sizeof(Chunk)) {
      size = align_up(need + sizeof(Chunk), 4096);
    }
    if (Chunk** list = list_for(size); list != nullptr && *list != nullptr) {
      Chunk* c = *list;
      *list = c->next;
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
    if (Chunk** list = list_for(c->size); list != nullptr) {
      c->next = *list;
      *list = c;
      return;
    }
    stats_.reserved_bytes -= c->size;
    std::free(c);
  }

  void* allocate_slow(Node* s, std::size_t size, std::size_t n, std::size_t align) noexcept {
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max() / 4;
    if (n > kMax || align > kMax) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    Chunk* c = take_chunk(s->chunk_size, n + align);
    if (c == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    stats_.wasted_bytes += static_cast<std::uint64_t>(s->end - s->cur);
    ++stats_.spills;
    c->next = s->chunks;
    s->chunks = c;
    auto base = reinterpret_cast<std::uintptr_t>(c + 1);
    std::uintptr_t q = (base + align - 1) & ~(std::uintptr_t{align} - 1);
    s->cur = reinterpret_cast<char*>(q + n);
    s->end = reinterpret_cast<char*>(c) + c->size;
    charge(s, s->budget, size);
    return reinterpret_cast<void*>(q);
  }

  std::uint64_t limit_;
  std::size_t chunk_;
  std::size_t nested_chunk_;
  Chunk* free_[2] = {nullptr, nullptr};  // [0]: chunk_ bytes, [1]: nested_chunk_ bytes
  Node* top_ = nullptr;
  BackendStats stats_;
};

static_assert(ScopedBackend<RequestScopeBackend>);
static_assert(HasStats<RequestScopeBackend>);
static_assert(ReleasesToOs<RequestScopeBackend>);

}  // namespace alloclab
