// recycle: Deno's HttpRecord pool (seeds/002 "HTTP Service Record Pattern";
// denoland/deno ext/http/service.rs, HttpRecord::new and HttpRecord::recycle,
// pooling added in commit 25950baed3 of 2023-11-13, "Object pooling for
// HttpRecord and HeaderMap", #20809). Each request takes a record from a
// server-wide pool, or allocates one when the pool is empty; when the request
// completes the record goes back to the pool if the pool is below a target
// sized from the requests in flight.
//
// Semantics kept:
//   - Record pool: open_scope(request) pops a record (HttpRecord::new's
//     pool.pop()) or mallocs a new one. Closing the request recycles it:
//     with target = f(in flight), the record is pushed when target >
//     pool size; otherwise it is freed, and when the pool exceeds the target
//     by more than `slack` it is truncated to the target (the newest
//     entries go, as Vec::truncate drops the tail).
//   - Steady state makes about no calls to the process malloc: records and
//     their buffers are reused. Every call upstream is counted
//     (upstream_allocs(), upstream_frees()) so this can be checked.
// Mapping decisions:
//   - A record carries a buffer of `record` bytes that the request's
//     allocations bump through; it stands for the HeaderMap and parts that
//     Deno recycles with the record, keeping their capacity. An allocation
//     that does not fit falls through to the process malloc (counted as
//     fall-through), is tracked on its scope, can be freed early, and is freed
//     when the scope closes. Bump bytes are not freed early.
//   - A child scope shares its request's record: its descriptor is carved
//     from the record buffer (or malloc'd when the buffer is full). Closing
//     it frees its fall-through blocks and takes its bytes out of
//     in_use_bytes; the buffer bytes come back when the record is recycled.
//   - A connection scope takes no record (Deno pools per request; the
//     connection is hyper's): its descriptor and its allocations come from
//     the process malloc.
//   - In flight = request scopes open, counting the one being recycled.
//     (Deno counts strong references to the server state: every live record,
//     the one being recycled included, plus the server's own handles.)
// The seed states the target as 2 x in flight (the defaults here). Deno's
// source has used 16 + in flight / 8 since pooling was introduced
// (recycle:base=16,mul=1,div=8 reproduces it); both truncate beyond +8.
//
// Options: record=SIZE buffer per record (default 4k, our choice: nginx's
// request_pool_size, as Deno's records hold no byte buffer); base=N, mul=N,
// div=N: target = base + in_flight * mul / div (defaults 0, 2, 1, the seed);
// slack=N (default 8, both the seed and Deno).
#pragma once

#include <cstdint>
#include <cstdlib>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"
#include "allocators/strategies/scope_tree.hpp"
#include "allocators/strategies/scope_blocks.hpp"

namespace alloclab {

class alignas(64) RecycleBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = false, .scoped = true, .thread_safe = false};

 private:
  struct Record;
  struct Node {
    // The record whose buffer this scope bumps through; nullptr for a
    // connection scope and its children.
    Record* record;
    Node* parent;
    Node* child;  // most recently opened child still open
    Node* prev_sibling;
    Node* next_sibling;
    detail::ScopeBlock* blocks;  // fall-through blocks still live
    std::uint64_t used;          // requested bytes handed out from the buffer
    bool heap_node;              // this descriptor came from the process malloc
  };
  // Followed in the same allocation by the buffer [buffer(), end).
  struct alignas(std::max_align_t) Record {
    Node node;     // the request scope while the record is taken
    char* cur;     // next free byte of the buffer
    char* end;     // one past the buffer
    Record* next;  // next record in the pool while pooled
    char* buffer() noexcept { return reinterpret_cast<char*>(this + 1); }
  };

 public:
  using Scope = Node*;

  RecycleBackend() : RecycleBackend(BackendOptions{}) {}
  explicit RecycleBackend(const BackendOptions& opts)
      : record_size_(align_up(opts.size("record", 4096), kMinAlign)),
        base_(opts.count("base", 0)),
        mul_(opts.count("mul", 2)),
        div_(opts.count("div", 1)),
        slack_(opts.count("slack", 8)) {
    if (div_ == 0) div_ = 1;
  }
  RecycleBackend(const RecycleBackend&) = delete;
  RecycleBackend& operator=(const RecycleBackend&) = delete;
  ~RecycleBackend() {
    while (top_) close_scope(top_);
    release_to_os();
  }

  // --- unscoped: the base allocator ---------------------------------------
  void* allocate(std::size_t size, std::size_t align) noexcept {
    ++upstream_allocs_;
    return fallthrough_allocate(stats_, size, align);
  }
  void deallocate(void* p, std::size_t size, std::size_t) noexcept {
    if (p != nullptr) ++upstream_frees_;
    fallthrough_deallocate(stats_, p, size);
  }

  // --- scopes ----------------------------------------------------------------
  Scope open_scope(ScopeKind kind, Scope parent) {
    Node* n = nullptr;
    if (kind == ScopeKind::request) {
      Record* r = take_record();
      if (r == nullptr) {
        ++stats_.failed_allocations;
        return nullptr;
      }
      ++in_flight_;
      n = &r->node;
      *n = Node{r, parent, nullptr, nullptr, nullptr, nullptr, 0, false};
    } else {
      Record* r = parent ? parent->record : nullptr;
      void* p = r ? bump(r, sizeof(Node), alignof(Node)) : nullptr;
      bool heap = p == nullptr;
      if (heap) {
        p = std::malloc(sizeof(Node));
        ++upstream_allocs_;
        if (p == nullptr) {
          ++stats_.failed_allocations;
          return nullptr;
        }
        stats_.reserved_bytes += sizeof(Node);
      }
      n = static_cast<Node*>(p);
      *n = Node{r, parent, nullptr, nullptr, nullptr, nullptr, 0, heap};
    }
    Node*& head = parent ? parent->child : top_;
    link_scope(head, n);
    return n;
  }

  void* allocate(Scope s, std::size_t size, std::size_t align) noexcept {
    std::size_t a = required_alignment(size, align);
    if (Record* r = s->record) [[likely]] {
      if (void* p = bump(r, size, a)) [[likely]] {
        s->used += size;
        stats_.in_use_bytes += size;
        return p;
      }
    }
    return overflow(s, size, a);
  }

  // Frees a fall-through block early; bytes in a record's buffer wait for
  // the record to be recycled.
  void deallocate(Scope s, void* p, std::size_t, std::size_t) noexcept {
    if (p == nullptr) return;
    if (Record* r = s->record; r != nullptr && static_cast<char*>(p) >= r->buffer() && static_cast<char*>(p) < r->end) {
      return;
    }
    free_block(detail::scope_block_of(p));
  }

  void close_scope(Scope s) noexcept {
    while (s->child) close_scope(s->child);
    Node*& head = s->parent ? s->parent->child : top_;
    unlink_scope(head, s);
    stats_.in_use_bytes -= s->used;
    while (s->blocks) free_block(s->blocks);
    if (s->record != nullptr && s == &s->record->node) {
      recycle(s->record);
    } else if (s->heap_node) {
      stats_.reserved_bytes -= sizeof(Node);
      std::free(s);
      ++upstream_frees_;
    }
  }

  BackendStats stats() const {
    BackendStats s = stats_;
    s.upstream_allocations = upstream_allocs_;
    s.pool_misses = pool_misses_;
    return s;
  }

  // Drops every pooled record.
  void release_to_os() {
    while (pool_) {
      Record* r = pool_;
      pool_ = r->next;
      free_record(r);
    }
    pool_size_ = 0;
  }

  std::uint64_t upstream_allocs() const noexcept { return upstream_allocs_; }
  std::uint64_t upstream_frees() const noexcept { return upstream_frees_; }
  std::size_t pool_size() const noexcept { return pool_size_; }
  std::size_t in_flight() const noexcept { return in_flight_; }
  std::size_t target(std::size_t in_flight) const noexcept { return base_ + in_flight * mul_ / div_; }
  std::size_t record_size() const noexcept { return record_size_; }

 private:
  static void* bump(Record* r, std::size_t size, std::size_t align) noexcept {
    std::size_t n = size == 0 ? 1 : size;  // distinct pointers for size 0
    auto p = reinterpret_cast<std::uintptr_t>(r->cur);
    std::uintptr_t q = (p + align - 1) & ~(std::uintptr_t{align} - 1);
    auto end = reinterpret_cast<std::uintptr_t>(r->end);
    if (q > end || n > end - q) return nullptr;
    r->cur = reinterpret_cast<char*>(q + n);
    return reinterpret_cast<void*>(q);
  }

  Record* take_record() noexcept {
    Record* r = pool_;
    if (r != nullptr) {
      pool_ = r->next;
      --pool_size_;
    } else {
      r = static_cast<Record*>(std::malloc(sizeof(Record) + record_size_));
      ++upstream_allocs_;
      ++pool_misses_;
      if (r == nullptr) return nullptr;
      stats_.reserved_bytes += sizeof(Record) + record_size_;
    }
    r->cur = r->buffer();
    r->end = r->buffer() + record_size_;
    r->next = nullptr;
    return r;
  }

  void free_record(Record* r) noexcept {
    stats_.reserved_bytes -= sizeof(Record) + record_size_;
    std::free(r);
    ++upstream_frees_;
  }

  // HttpRecord::recycle: keep the pool near target(in flight).
  void recycle(Record* r) noexcept {
    std::size_t t = target(in_flight_);
    --in_flight_;
    if (t > pool_size_) {
      r->next = pool_;
      pool_ = r;
      ++pool_size_;
      return;
    }
    free_record(r);
    if (pool_size_ > t + slack_) {
      while (pool_size_ > t) {
        Record* x = pool_;
        pool_ = x->next;
        --pool_size_;
        free_record(x);
      }
    }
  }

  void* overflow(Node* s, std::size_t size, std::size_t align) noexcept {
    ++upstream_allocs_;
    return detail::scope_block_fallthrough(stats_, s->blocks, size, align);
  }

  void free_block(detail::ScopeBlock* b) noexcept {
    stats_.in_use_bytes -= b->size;
    stats_.reserved_bytes -= b->raw_bytes;
    detail::scope_block_free(b);
    ++upstream_frees_;
  }

  std::size_t record_size_;
  std::uint64_t base_;
  std::uint64_t mul_;
  std::uint64_t div_;
  std::uint64_t slack_;
  Record* pool_ = nullptr;  // LIFO, like Deno's Vec push/pop
  std::size_t pool_size_ = 0;
  std::size_t in_flight_ = 0;  // request scopes open
  std::uint64_t upstream_allocs_ = 0;
  std::uint64_t pool_misses_ = 0;  // records allocated because the pool was empty
  std::uint64_t upstream_frees_ = 0;
  Node* top_ = nullptr;
  BackendStats stats_;
};

static_assert(ScopedBackend<RecycleBackend>);
static_assert(HasStats<RecycleBackend>);
static_assert(ReleasesToOs<RecycleBackend>);

}  // namespace alloclab
