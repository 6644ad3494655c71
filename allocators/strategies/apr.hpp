// apr: a model of APR pools, the allocator behind Apache httpd (learned from
// apache/apr memory/unix/apr_pools.c and include/apr_allocator.h: trunk at
// afda3e317 for the free-list layout and the 2x search limit, the 1.7.2 tag
// for what Debian's libapr1 does; httpd's use of it from the MaxMemFree
// documentation and http-workload-facts.md).
//
// Semantics kept:
//   - An allocator hands out nodes whose size is a multiple of the 4 KiB
//     boundary, at least 8 KiB (MIN_ALLOC = 2 boundaries), header included.
//     Node index = pages - 1.
//   - Free nodes are kept in lists indexed by that index: 20 slots (nodes up
//     to 80 KiB) plus a sink for larger ones (MAX_INDEX 20, sink at slot 20
//     as in trunk; 1.7.x keeps it at slot 0, which MIN_ALLOC leaves unused,
//     so the behaviour is the same). A request for index i takes the head of
//     the first non-empty slot in [i, min(2i, max_index)] ("a free node up to
//     about twice the needed size", trunk r1594729); search_2x=0 gives the
//     1.7.x rule, [i, max_index]. The sink is searched (first node large
//     enough, unsorted) only when i is above max_index, the highest
//     non-empty slot. Otherwise a new node comes from std::malloc.
//   - max_free: pages the allocator may keep on its free lists. Freed nodes
//     beyond the budget go back upstream; taking a node off the free lists
//     gives its pages back to the budget. Default unlimited
//     (APR_ALLOCATOR_MAX_FREE_UNLIMITED); httpd sets MaxMemFree, 2048 KB.
//   - A pool is a ring of nodes; the pool header lives in its first node
//     ("self"). apr_palloc rounds sizes to 8 and bumps in the active node;
//     on a miss it looks only at active->next, else takes a new node from
//     the allocator. The new node becomes active and the old active is moved
//     so that the ring after the active node stays sorted by free pages
//     (floor(free / 4 KiB)), most first.
//   - Pools nest: connection scopes are subpools of an implicit per-backend
//     global pool, request scopes subpools of their connection, child scopes
//     of their parent. close_scope is apr_pool_destroy (children first, then
//     every node including self back to the allocator); clear_scope is
//     apr_pool_clear (children destroyed, every node but self freed, the
//     pool stays open). Frees go to the allocator as one batch, in ring
//     order starting at self (destroy) or self->next (clear).
//   - No individual free: deallocate within a scope is a no-op.
// Simplified / adapted to the contract:
//   - No cleanups, user data, subprocesses, mutexes or debug modes.
//   - APR returns 8-aligned blocks; a stronger required_alignment is met by
//     padding the cursor in the node, and a new node is sized for the worst
//     padding. Size 0 is served as 8 bytes so that pointers stay unique.
//   - The pool header is this model's own (64 B, APR's is 120 B on LP64).
//   - release_to_os() frees every node on the free lists (APR 1.7 can only
//     do that by destroying the allocator).
//   - Nodes come from std::malloc, as in APR's default build; mmap=true maps
//     each node on its own as APR built with --enable-allocator-uses-mmap
//     does (Debian's libapr1 is). The boundary stays 4 KiB either way (APR's
//     mmap build uses the page size, 4 KiB on x86-64).
//
// Options: max_free=SIZE (default 0 = unlimited; rounded up to 4 KiB pages),
// search_2x=BOOL (default true), mmap=BOOL (default false).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>

#include <sys/mman.h>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"

namespace alloclab {

class alignas(64) AprBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = false, .scoped = true, .thread_safe = false};

  static constexpr std::size_t kBoundary = 4096;       // BOUNDARY_SIZE (BOUNDARY_INDEX 12)
  static constexpr std::size_t kMinNode = 2 * kBoundary;  // MIN_ALLOC
  static constexpr std::size_t kSlots = 20;            // MAX_INDEX; slot kSlots is the sink
  static constexpr std::size_t kGrain = 8;             // APR_ALIGN_DEFAULT

 private:
  struct Node {
    Node* next;               // ring successor (in a pool) or next free node
    Node* prev;               // ring predecessor; unused on the free lists
    std::uint32_t index;      // node bytes == (index + 1) * kBoundary, header included
    std::uint32_t free_index; // floor(free / kBoundary) when it stopped being active;
                              // 0 for the active node (ends the re-sort walk)
    char* first_avail;        // kGrain-aligned; first_avail <= endp
    char* endp;               // one past the node
  };

 public:
  static constexpr std::size_t kNodeHeader = align_up(sizeof(Node), kGrain);

  struct Pool {
    Pool* parent;
    Pool* child;          // most recently created child still alive
    Pool* sibling;        // next older sibling
    Pool* prev_sibling;   // nullptr: this is parent->child
    Node* active;         // ring head; the ring after it is sorted by free_index, descending
    Node* self;           // the node holding this header; freed last, kept by clear
    char* self_first_avail;
    std::uint64_t used;   // requested bytes handed out since creation or last clear
  };
  using Scope = Pool*;
  static constexpr std::size_t kPoolHeader = align_up(sizeof(Pool), kGrain);

  AprBackend() : AprBackend(BackendOptions{}) {}
  explicit AprBackend(const BackendOptions& opts)
      : search_2x_(opts.flag("search_2x", true)), mmap_(opts.flag("mmap", false)) {
    std::uint64_t max_free = opts.size("max_free", 0);
    if (max_free > std::numeric_limits<std::uint64_t>::max() - kBoundary) max_free = 0;
    // apr_allocator_max_free_set from the unlimited state: the whole budget
    // is available.
    max_free_pages_ = align_up(max_free, kBoundary) / kBoundary;
    budget_pages_ = max_free_pages_;
  }
  AprBackend(const AprBackend&) = delete;
  AprBackend& operator=(const AprBackend&) = delete;
  ~AprBackend() {
    if (global_) destroy(global_);
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
  // A scope without a parent is a subpool of the global pool, whatever its
  // kind (httpd: the per-connection transaction pool under the process pool).
  Scope open_scope(ScopeKind, Scope parent) noexcept {
    if (parent == nullptr) {
      if (global_ == nullptr && (global_ = create(nullptr)) == nullptr) {
        ++stats_.failed_allocations;
        return nullptr;
      }
      parent = global_;
    }
    Pool* p = create(parent);
    if (p == nullptr) ++stats_.failed_allocations;
    return p;
  }

  void* allocate(Scope s, std::size_t size, std::size_t align) noexcept {
    std::size_t a = required_alignment(size, align);
    std::size_t n = align_up(size == 0 ? 1 : size, kGrain);
    Node* act = s->active;
    char* q = fit(act, n, a);
    if (q != nullptr && n >= size) [[likely]] {
      act->first_avail = q + n;
      s->used += size;
      stats_.in_use_bytes += size;
      return q;
    }
    return allocate_slow(s, size, n, a);
  }

  void deallocate(Scope, void*, std::size_t, std::size_t) noexcept {}

  // apr_pool_destroy.
  void close_scope(Scope s) noexcept { destroy(s); }

  // apr_pool_clear: children destroyed, every node but self back to the
  // allocator, the pool starts over in self. The handle stays valid.
  void clear_scope(Scope s) noexcept {
    while (s->child) destroy(s->child);
    stats_.in_use_bytes -= s->used;
    s->used = 0;
    Node* self = s->self;
    s->active = self;
    self->first_avail = s->self_first_avail;
    if (self->next == self) return;
    Node* rest = self->next;
    self->prev->next = nullptr;
    self->next = self->prev = self;
    free_nodes(rest);
  }

  BackendStats stats() const { return stats_; }

  void release_to_os() noexcept {
    for (auto& head : free_) {
      while (head) {
        Node* n = head;
        head = n->next;
        give_budget(n->index + 1);
        upstream_free(n);
      }
    }
    max_index_ = 0;
  }

  // --- introspection (tests, reports) ---------------------------------------
  // Node bytes the allocator uses for a request of `size` bytes of payload
  // (apr_allocator_align); 0 when it overflows.
  static constexpr std::size_t node_size_for(std::size_t size) noexcept {
    if (size > std::numeric_limits<std::size_t>::max() - kNodeHeader - kBoundary) return 0;
    std::size_t n = align_up(size + kNodeHeader, kBoundary);
    return n < kMinNode ? kMinNode : n;
  }
  // Free nodes in slot i (i == kSlots: the sink).
  std::size_t free_count(std::size_t slot) const noexcept {
    std::size_t k = 0;
    for (Node* n = free_[slot]; n; n = n->next) ++k;
    return k;
  }
  std::size_t max_index() const noexcept { return max_index_; }
  std::uint64_t free_budget_pages() const noexcept { return budget_pages_; }
  Scope global_scope() const noexcept { return global_; }
  // Calls f(node_bytes, free_bytes) for each node of s in ring order,
  // starting at the active node.
  template <class F>
  void for_each_node(Scope s, F&& f) const {
    Node* n = s->active;
    do {
      f(node_bytes(n), static_cast<std::size_t>(n->endp - n->first_avail));
      n = n->next;
    } while (n != s->active);
  }

 private:
  static std::size_t node_bytes(const Node* n) noexcept {
    return (std::size_t{n->index} + 1) * kBoundary;
  }

  // Where n bytes aligned to a would go in node `nd`; nullptr if they do not fit.
  static char* fit(Node* nd, std::size_t n, std::size_t a) noexcept {
    auto p = reinterpret_cast<std::uintptr_t>(nd->first_avail);
    std::uintptr_t q = (p + a - 1) & ~(std::uintptr_t{a} - 1);
    auto end = reinterpret_cast<std::uintptr_t>(nd->endp);
    return q <= end && n <= end - q ? reinterpret_cast<char*>(q) : nullptr;
  }

  // Ring surgery. Invariant: a pool's nodes form a circular doubly linked ring.
  static void insert_before(Node* n, Node* point) noexcept {
    n->prev = point->prev;
    n->next = point;
    point->prev->next = n;
    point->prev = n;
  }
  static void unlink(Node* n) noexcept {
    n->prev->next = n->next;
    n->next->prev = n->prev;
  }

  void give_budget(std::uint64_t pages) noexcept {
    if (max_free_pages_ == 0) return;
    budget_pages_ += pages;
    if (budget_pages_ > max_free_pages_) budget_pages_ = max_free_pages_;
  }

  Node* upstream_alloc(std::size_t bytes) noexcept {
    if (!mmap_) return static_cast<Node*>(std::malloc(bytes));
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<Node*>(p);
  }
  void upstream_free(Node* n) noexcept {
    std::size_t bytes = node_bytes(n);
    stats_.reserved_bytes -= bytes;
    if (mmap_) ::munmap(n, bytes);
    else std::free(n);
  }

  // apr_allocator_alloc: a node with at least `size` free bytes after its header.
  Node* node_alloc(std::size_t size) noexcept {
    std::size_t bytes = node_size_for(size);
    if (bytes == 0) return nullptr;
    std::size_t index = bytes / kBoundary - 1;
    if (index > std::numeric_limits<std::uint32_t>::max()) return nullptr;
    Node* n = nullptr;
    if (index <= max_index_) {
      std::size_t upper = search_2x_ && 2 * index < max_index_ ? 2 * index : max_index_;
      for (std::size_t i = index; i <= upper; ++i) {
        if ((n = free_[i]) == nullptr) continue;
        free_[i] = n->next;
        if (free_[i] == nullptr && i == max_index_) {
          while (max_index_ > 0 && free_[max_index_] == nullptr) --max_index_;
        }
        break;
      }
    } else if (free_[kSlots]) {
      Node** ref = &free_[kSlots];
      while ((n = *ref) != nullptr && n->index < index) ref = &n->next;
      if (n) *ref = n->next;
    }
    if (n) {
      give_budget(n->index + 1);
    } else {
      n = upstream_alloc(bytes);
      if (n == nullptr) return nullptr;
      n->index = static_cast<std::uint32_t>(index);
      n->endp = reinterpret_cast<char*>(n) + bytes;
      stats_.reserved_bytes += bytes;
    }
    n->next = n->prev = nullptr;
    n->free_index = 0;
    n->first_avail = reinterpret_cast<char*>(n) + kNodeHeader;
    return n;
  }

  // apr_allocator_free: a nullptr-terminated list (via next), in order.
  void free_nodes(Node* n) noexcept {
    Node* upstream = nullptr;
    while (n) {
      Node* next = n->next;
      std::uint64_t pages = std::uint64_t{n->index} + 1;
      if (max_free_pages_ != 0 && pages > budget_pages_) {
        n->next = upstream;
        upstream = n;
      } else {
        std::size_t slot = n->index < kSlots ? n->index : kSlots;
        n->next = free_[slot];
        free_[slot] = n;
        if (slot < kSlots && slot > max_index_) max_index_ = slot;
        budget_pages_ = budget_pages_ > pages ? budget_pages_ - pages : 0;
      }
      n = next;
    }
    while (upstream) {
      Node* next = upstream->next;
      upstream_free(upstream);
      upstream = next;
    }
  }

  // apr_pool_create_ex: one MIN_ALLOC node holding the header.
  Pool* create(Pool* parent) noexcept {
    Node* node = node_alloc(kMinNode - kNodeHeader);
    if (node == nullptr) return nullptr;
    node->next = node->prev = node;
    auto* p = ::new (node->first_avail) Pool{parent, nullptr, nullptr, nullptr, node, node,
                                             node->first_avail + kPoolHeader, 0};
    node->first_avail = p->self_first_avail;
    if (parent) {
      p->sibling = parent->child;
      if (p->sibling) p->sibling->prev_sibling = p;
      parent->child = p;
    }
    return p;
  }

  void destroy(Pool* p) noexcept {
    while (p->child) destroy(p->child);
    if (p->parent) {
      if (p->prev_sibling) p->prev_sibling->sibling = p->sibling;
      else p->parent->child = p->sibling;
      if (p->sibling) p->sibling->prev_sibling = p->prev_sibling;
    } else if (p == global_) {
      global_ = nullptr;
    }
    stats_.in_use_bytes -= p->used;
    Node* self = p->self;  // p lives in self: not touched after this
    self->prev->next = nullptr;
    free_nodes(self);
  }

  void* allocate_slow(Pool* s, std::size_t size, std::size_t n, std::size_t a) noexcept {
    if (n < size || size > std::numeric_limits<std::size_t>::max() / 2) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    Node* act = s->active;
    Node* node = act->next;
    char* q = node != act ? fit(node, n, a) : nullptr;
    if (q != nullptr) {
      unlink(node);
    } else {
      // Worst-case padding: the cursor is kGrain-aligned.
      node = node_alloc(n + (a > kGrain ? a - kGrain : 0));
      if (node == nullptr) {
        ++stats_.failed_allocations;
        return nullptr;
      }
      ++stats_.spills;
      q = fit(node, n, a);
    }
    node->free_index = 0;
    node->first_avail = q + n;
    insert_before(node, act);
    s->active = node;

    // Keep the ring after the active node sorted by free pages: move the old
    // active forward past every node with more free pages. The walk ends at
    // the new active node at the latest (free_index 0).
    auto fi = static_cast<std::uint32_t>(static_cast<std::size_t>(act->endp - act->first_avail) / kBoundary);
    act->free_index = fi;
    Node* pos = act->next;
    if (fi < pos->free_index) {
      do pos = pos->next;
      while (fi < pos->free_index);
      unlink(act);
      insert_before(act, pos);
    }
    s->used += size;
    stats_.in_use_bytes += size;
    return q;
  }

  bool search_2x_;
  bool mmap_;
  std::uint64_t max_free_pages_ = 0;  // 0: unlimited
  std::uint64_t budget_pages_ = 0;    // pages the free lists may still take; <= max_free_pages_
  std::size_t max_index_ = 0;         // highest non-empty slot below the sink, or 0
  Node* free_[kSlots + 1] = {};       // LIFO lists; free_[i] holds index-i nodes, free_[kSlots] larger
  Pool* global_ = nullptr;
  BackendStats stats_;
};

static_assert(ScopedBackend<AprBackend>);
static_assert(HasStats<AprBackend>);
static_assert(ReleasesToOs<AprBackend>);
static_assert(AprBackend::kNodeHeader == 40, "APR_MEMNODE_T_SIZE on LP64");

}  // namespace alloclab
