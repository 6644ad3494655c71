// bounded: the bounded pool of seeds/004 (Macula HTTP/3 mesh platform,
// "Memory Management Architecture", fixes 1 and 2; macula-io/macula
// src/macula_gateway_system/macula_gateway_mesh.erl and the client manager
// it describes). Macula caches connections by node id in a pool of at most
// max_mesh_connections entries, evicts the least recently used one when a new
// entry is needed and the pool is full, and refuses new clients with
// {error, max_clients_reached} when its client limit is reached.
//
// Mapping to allocator terms:
//   - An entry is a block of one size class obtained from the process
//     malloc and kept for reuse; the size class plays the node id. An entry
//     is live while the caller holds it and idle once freed; the pool keeps
//     idle entries for the next allocation of their class (a cached
//     connection reused: get_or_create_connection's "reuse" path).
//   - Capacity counts every entry, live and idle, like maps:size of the mesh
//     pool. An allocation that finds no idle entry of its class needs a new
//     one: below capacity it is made; at capacity the least recently used
//     idle entry of any class is evicted (freed upstream) to make room.
//   - Only idle entries are evicted: a block in use cannot be taken from its
//     user (Macula may close a live connection; memory may not). When every
//     entry is live the allocation is refused, nullptr counted in rejections
//     and failed_allocations: the client manager's back-pressure.
// Semantics kept: the cap, LRU order by last use (an entry is "used" when it
// is freed back; reuse takes the most recently freed entry of a class), O(1)
// lookup, update and eviction (the seed claims O(1); Macula's own eviction
// sorts the pool). Not modelled: the 300 s TTL sweep and process monitors
// (no clock in an allocator), liveness checks.
// Simplified: classes are powers of two from 32 B to max_entry, each entry
// with a 16-byte header naming its class; a larger size, or an alignment
// above the fundamental one, is not pooled and goes to the base allocator
// (fall-through).
//
// Options: capacity=N entries (default 1000: max_mesh_connections in
// macula_gateway_mesh.erl; the client manager's max_clients is 10,000),
// max_entry=SIZE largest pooled class (default 64k, our choice).
#pragma once

#include <bit>
#include <cstdint>
#include <cstdlib>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"

namespace alloclab {

class alignas(64) BoundedBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = true, .scoped = false, .thread_safe = false};
  static constexpr std::size_t kMinClassShift = 5;  // 32 B: an Idle fits
  static constexpr std::size_t kMaxClasses = 40;

 private:
  // An idle entry; it lives in the freed block itself.
  struct Idle {
    Idle* class_next;  // toward older idle entries of the same class
    Idle* class_prev;
    Idle* newer;  // global LRU order: head_ is newest, tail_ oldest
    Idle* older;
  };
  static_assert(sizeof(Idle) <= (std::size_t{1} << kMinClassShift));
  // Precedes every entry (the entry's bookkeeping, as Macula keeps
  // connection_info beside each pooled connection). Keeps the entry at the
  // fundamental alignment.
  struct alignas(std::max_align_t) Header {
    std::uint32_t cls;  // size class; fixed for the entry's lifetime
  };

 public:
  BoundedBackend() : BoundedBackend(BackendOptions{}) {}
  explicit BoundedBackend(const BackendOptions& opts)
      : capacity_(opts.count("capacity", 1000)) {
    std::uint64_t max_entry = opts.size("max_entry", 64 * 1024);
    if (max_entry < (std::size_t{1} << kMinClassShift)) max_entry = std::size_t{1} << kMinClassShift;
    if (max_entry > (std::uint64_t{1} << (kMinClassShift + kMaxClasses - 1))) {
      max_entry = std::uint64_t{1} << (kMinClassShift + kMaxClasses - 1);
    }
    max_entry_ = std::bit_floor(static_cast<std::size_t>(max_entry));
  }
  BoundedBackend(const BoundedBackend&) = delete;
  BoundedBackend& operator=(const BoundedBackend&) = delete;
  ~BoundedBackend() { release_to_os(); }

  void* allocate(std::size_t size, std::size_t align) noexcept {
    if (size > max_entry_ || align > kMinAlign) [[unlikely]] return fall_through(size, align);
    std::size_t c = class_of(size);
    if (Idle* e = class_head_[c]) [[likely]] {  // reuse the most recent idle entry
      unlink(e, c);
      ++live_;
      ++hits_;
      stats_.in_use_bytes += size;
      return e;
    }
    if (live_ + idle_ >= capacity_) {
      if (idle_ == 0) {  // every entry live: back-pressure
        ++stats_.rejections;
        ++stats_.failed_allocations;
        return nullptr;
      }
      evict_oldest();
    }
    std::size_t bytes = sizeof(Header) + class_size(c);
    auto* h = static_cast<Header*>(std::malloc(bytes));
    if (h == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    h->cls = static_cast<std::uint32_t>(c);
    ++live_;
    stats_.reserved_bytes += bytes;
    stats_.in_use_bytes += size;
    return h + 1;
  }

  void deallocate(void* p, std::size_t size, std::size_t align) noexcept {
    if (p == nullptr) return;
    if (size > max_entry_ || align > kMinAlign) [[unlikely]] {
      std::free(p);
      stats_.in_use_bytes -= size;
      stats_.reserved_bytes -= size;
      return;
    }
    std::size_t c = class_of(size);
    auto* e = static_cast<Idle*>(p);
    e->class_prev = nullptr;
    e->class_next = class_head_[c];
    if (e->class_next) e->class_next->class_prev = e;
    class_head_[c] = e;
    e->newer = nullptr;
    e->older = head_;
    if (head_) head_->newer = e;
    else tail_ = e;
    head_ = e;
    --live_;
    ++idle_;
    stats_.in_use_bytes -= size;
  }

  BackendStats stats() const { return stats_; }

  // Frees every idle entry.
  void release_to_os() {
    while (tail_) evict_oldest();
  }

  std::uint64_t capacity() const noexcept { return capacity_; }
  std::size_t max_entry() const noexcept { return max_entry_; }
  std::uint64_t live_entries() const noexcept { return live_; }
  std::uint64_t idle_entries() const noexcept { return idle_; }
  std::uint64_t evictions() const noexcept { return evictions_; }
  std::uint64_t hits() const noexcept { return hits_; }
  // Bytes an entry serving `size` takes upstream, header included.
  static constexpr std::size_t entry_bytes(std::size_t size) noexcept {
    return sizeof(Header) + class_size(class_of(size));
  }

 private:
  static constexpr std::size_t class_of(std::size_t size) noexcept {
    if (size <= (std::size_t{1} << kMinClassShift)) return 0;
    return static_cast<std::size_t>(std::bit_width(size - 1)) - kMinClassShift;
  }
  static constexpr std::size_t class_size(std::size_t c) noexcept { return std::size_t{1} << (c + kMinClassShift); }

  // Removes idle entry e of class c from both lists.
  void unlink(Idle* e, std::size_t c) noexcept {
    if (e->class_prev) e->class_prev->class_next = e->class_next;
    else class_head_[c] = e->class_next;
    if (e->class_next) e->class_next->class_prev = e->class_prev;
    if (e->newer) e->newer->older = e->older;
    else head_ = e->older;
    if (e->older) e->older->newer = e->newer;
    else tail_ = e->newer;
    --idle_;
  }

  static Header* header_of(void* p) noexcept { return static_cast<Header*>(p) - 1; }

  void* fall_through(std::size_t size, std::size_t align) noexcept {
    return fallthrough_allocate(stats_, size, align);
  }

  // Frees the least recently used idle entry.
  void evict_oldest() noexcept {
    Idle* e = tail_;
    Header* h = header_of(e);
    unlink(e, h->cls);
    stats_.reserved_bytes -= sizeof(Header) + class_size(h->cls);
    std::free(h);
    ++evictions_;
  }

  std::uint64_t capacity_;
  std::size_t max_entry_;
  Idle* class_head_[kMaxClasses] = {};  // newest idle entry of each class
  Idle* head_ = nullptr;                // newest idle entry
  Idle* tail_ = nullptr;                // oldest idle entry: next to evict
  std::uint64_t live_ = 0;
  std::uint64_t idle_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t hits_ = 0;
  BackendStats stats_;
};

static_assert(Backend<BoundedBackend>);
static_assert(HasStats<BoundedBackend>);
static_assert(ReleasesToOs<BoundedBackend>);

}  // namespace alloclab
