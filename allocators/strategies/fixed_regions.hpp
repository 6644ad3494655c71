// fixed-regions: Nea, "NEver Allocate" (seeds/003; tweedegolf/nea, read at
// commit 0d2bd7e of 2024-05-24: shared/src/allocator.rs, nea/src/lib.rs,
// nea/src/config.rs, nea/src/executor.rs). One allocation at start holds N
// regions ("buckets") of R bytes; a request takes a region, allocates in it
// and never frees; when it is done the region is reset for the next request.
//
// Semantics kept:
//   - One anonymous mmap of N x R bytes at construction, as Nea's
//     initialize_buckets does; the process malloc is never asked for request
//     memory afterwards. reserved_bytes is therefore constant from
//     construction while requests come and go: peak footprint equals steady
//     footprint. (So fixed-regions@jemalloc changes only the fall-through.)
//   - A region is a bump allocator that counts down from its top, aligning
//     by masking the offset (try_alloc_help); alignment above 4096 is refused
//     (MAX_SUPPORTED_ALIGN), counted in failed_allocations.
//   - deallocate frees nothing (Nea's dealloc is empty); closing the request
//     resets the region's counter (clear_bucket). Nothing is wiped.
//   - A request that outgrows its region is cancelled alone (Nea longjmps
//     out of the handler and answers 500): the allocation that did not fit
//     returns nullptr, the request is counted once in rejections, and every
//     later allocation in that request fails too. Other requests are not
//     affected.
//   - Back-pressure: when every region is busy, open_scope(request) returns
//     Scope{} and counts a rejection (Nea shuts the accepted socket when
//     try_claim finds no free bucket).
// Mapping decisions:
//   - Nea claims a bucket per accepted connection; here, as the project's
//     traces separate the two, a request scope claims the region. A
//     connection scope owns no region: its descriptor and any allocation made
//     directly in it come from the process malloc (counted as fall-through,
//     freed when it closes). That memory is outside Nea's model and is the
//     only thing that moves reserved_bytes.
//   - A child scope (or any non-request scope opened inside a request)
//     shares its request's region: its descriptor and its blocks are carved
//     from the region, and its bytes leave in_use_bytes when it closes but
//     are reused only when the request closes, since a region never frees.
//     A child that cannot fit its descriptor cancels the request.
//   - A request opened inside another scope claims a region of its own.
// Simplified: a free region is found in O(1) from a LIFO list (Nea scans its
// refcount table for the first free bucket); regions are not thread-safe
// (Nea's counters are atomics, but each bucket is used by one worker).
// release_to_os() is not offered: Nea never returns memory.
//
// Options: regions=N (default 64: Config::default's bucket_count in
// nea/src/config.rs; the repository's config.toml sets 8), region=SIZE
// (default 512k: the 4096 * 128 passed to initialize_buckets in
// nea/src/lib.rs), rounded up to whole pages.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"
#include "allocators/strategies/scope_tree.hpp"
#include "allocators/strategies/scope_blocks.hpp"

namespace alloclab {

class alignas(64) FixedRegionsBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = false, .scoped = true, .thread_safe = false};
  // Nea's MAX_SUPPORTED_ALIGN; regions start on page boundaries.
  static constexpr std::size_t kMaxAlign = 4096;

 private:
  struct Region;
  struct Node {
    // The region this scope allocates in; nullptr for a scope outside any
    // request, whose allocations fall through to the process malloc.
    Region* region;
    Node* parent;
    Node* child;  // most recently opened child still open
    Node* prev_sibling;
    Node* next_sibling;
    detail::ScopeBlock* blocks;  // fall-through blocks (region == nullptr only)
    std::uint64_t used;          // requested bytes handed out from the region
    bool owns_region;            // a request scope: closing it resets region
    bool heap_node;              // this descriptor came from the process malloc
  };
  struct Region {
    char* base;  // page-aligned start
    // Bytes [base, base + remaining) are free; allocation moves the top
    // down. remaining == region size exactly when the region is unused.
    std::size_t remaining;
    bool busy;       // a request holds it
    bool cancelled;  // its request outgrew it: every allocation fails
    Region* next_free;
    Node node;  // the request scope while busy
  };

 public:
  using Scope = Node*;

  FixedRegionsBackend() : FixedRegionsBackend(BackendOptions{}) {}
  explicit FixedRegionsBackend(const BackendOptions& opts)
      : nregions_(opts.count("regions", 64)), region_size_(align_up(opts.size("region", 512 * 1024), 4096)) {
    if (region_size_ == 0) region_size_ = 4096;
    map_bytes_ = nregions_ * region_size_;
    if (nregions_ != 0 && map_bytes_ / nregions_ == region_size_) {
      void* m = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m != MAP_FAILED) map_ = static_cast<char*>(m);
    }
    if (map_ == nullptr) {  // no memory: every request meets back-pressure
      nregions_ = 0;
      map_bytes_ = 0;
    }
    regions_ = std::make_unique<Region[]>(nregions_);
    for (std::size_t i = nregions_; i-- > 0;) {  // region 0 first, as Nea's scan finds it
      Region& r = regions_[i];
      r.base = map_ + i * region_size_;
      r.remaining = region_size_;
      r.busy = false;
      r.cancelled = false;
      r.next_free = free_;
      free_ = &r;
    }
    stats_.reserved_bytes = map_bytes_ + nregions_ * sizeof(Region);
  }
  FixedRegionsBackend(const FixedRegionsBackend&) = delete;
  FixedRegionsBackend& operator=(const FixedRegionsBackend&) = delete;
  ~FixedRegionsBackend() {
    while (top_) close_scope(top_);
    if (map_) ::munmap(map_, map_bytes_);
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
    Node* n = nullptr;
    if (kind == ScopeKind::request) {
      Region* r = free_;
      if (r == nullptr) {  // back-pressure: every region busy
        ++stats_.rejections;
        ++stats_.turned_away_requests;
        return nullptr;
      }
      free_ = r->next_free;
      r->busy = true;
      n = &r->node;
      *n = Node{r, parent, nullptr, nullptr, nullptr, nullptr, 0, true, false};
    } else if (parent != nullptr && parent->region != nullptr) {
      Region* r = parent->region;
      void* p = bump(r, sizeof(Node), alignof(Node));
      if (p == nullptr) {
        cancel(r);
        return nullptr;
      }
      n = static_cast<Node*>(p);
      *n = Node{r, parent, nullptr, nullptr, nullptr, nullptr, 0, false, false};
    } else {
      n = static_cast<Node*>(std::malloc(sizeof(Node)));
      if (n == nullptr) {
        ++stats_.failed_allocations;
        return nullptr;
      }
      stats_.reserved_bytes += sizeof(Node);
      *n = Node{nullptr, parent, nullptr, nullptr, nullptr, nullptr, 0, false, true};
    }
    Node*& head = parent ? parent->child : top_;
    link_scope(head, n);
    return n;
  }

  void* allocate(Scope s, std::size_t size, std::size_t align) noexcept {
    Region* r = s->region;
    if (r == nullptr) [[unlikely]] return allocate_outside(s, size, align);
    std::size_t a = required_alignment(size, align);
    if (a > kMaxAlign) [[unlikely]] {
      ++stats_.failed_allocations;
      return nullptr;
    }
    void* p = bump(r, size, a);
    if (p == nullptr) [[unlikely]] return cancel(r);
    s->used += size;
    stats_.in_use_bytes += size;
    return p;
  }

  void deallocate(Scope s, void* p, std::size_t, std::size_t) noexcept {
    if (p == nullptr || s->region != nullptr) return;  // a region frees nothing
    detail::ScopeBlock* b = detail::scope_block_of(p);
    stats_.in_use_bytes -= b->size;
    stats_.reserved_bytes -= b->raw_bytes;
    detail::scope_block_free(b);
  }

  void close_scope(Scope s) noexcept {
    while (s->child) close_scope(s->child);
    Node*& head = s->parent ? s->parent->child : top_;
    unlink_scope(head, s);
    stats_.in_use_bytes -= s->used;
    while (s->blocks) {
      detail::ScopeBlock* b = s->blocks;
      stats_.in_use_bytes -= b->size;
      stats_.reserved_bytes -= b->raw_bytes;
      detail::scope_block_free(b);
    }
    if (s->owns_region) {
      Region* r = s->region;
      r->remaining = region_size_;
      r->cancelled = false;
      r->busy = false;
      r->next_free = free_;
      free_ = r;
    } else if (s->heap_node) {
      stats_.reserved_bytes -= sizeof(Node);
      std::free(s);
    }
  }

  BackendStats stats() const { return stats_; }

  std::size_t regions() const noexcept { return nregions_; }
  std::size_t region_size() const noexcept { return region_size_; }
  std::size_t busy_regions() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < nregions_; ++i) n += regions_[i].busy;
    return n;
  }
  // Whether s allocates in a region that its request outgrew.
  bool cancelled(Scope s) const noexcept { return s->region != nullptr && s->region->cancelled; }
  // Bytes of the single startup mapping.
  std::size_t mapped_bytes() const noexcept { return map_bytes_; }

 private:
  // Nea's try_alloc_help: move the top down by size, then down to the
  // alignment; nullptr when the region has no room.
  static void* bump(Region* r, std::size_t size, std::size_t align) noexcept {
    std::size_t n = size == 0 ? 1 : size;  // distinct pointers for size 0
    if (r->cancelled || n > r->remaining) return nullptr;
    r->remaining = (r->remaining - n) & ~(align - 1);
    return r->base + r->remaining;
  }

  void* cancel(Region* r) noexcept {
    ++stats_.failed_allocations;
    if (!r->cancelled) {
      r->cancelled = true;
      ++stats_.rejections;
      ++stats_.cancelled_requests;
    }
    return nullptr;
  }

  void* allocate_outside(Node* s, std::size_t size, std::size_t align) noexcept {
    return detail::scope_block_fallthrough(stats_, s->blocks, size, required_alignment(size, align));
  }

  std::size_t nregions_;
  std::size_t region_size_;
  std::size_t map_bytes_ = 0;
  char* map_ = nullptr;
  std::unique_ptr<Region[]> regions_;
  Region* free_ = nullptr;  // LIFO list of regions no request holds
  Node* top_ = nullptr;
  // Refusals told apart (isolation: a request over its limit fails alone).
  BackendStats stats_ = [] {
    BackendStats st;
    st.cancelled_requests = 0;
    st.turned_away_requests = 0;
    return st;
  }();
};

static_assert(ScopedBackend<FixedRegionsBackend>);
static_assert(HasStats<FixedRegionsBackend>);

}  // namespace alloclab
