// nginx: the two-tier memory pools of ngx_palloc (nginx 1.31.5,
// src/core/ngx_palloc.c and ngx_palloc.h; pool sizes from
// src/http/ngx_http_core_module.c and ngx_http_request.c; ngx_memalign from
// src/os/unix/ngx_alloc.c; NGX_ALIGNMENT from src/core/ngx_config.h).
//
// Semantics kept:
//   - Each scope is one nginx pool: a chain of equal-size blocks obtained with
//     posix_memalign(16, pool size) from the process malloc. The first block
//     carries the 80-byte pool header, later blocks only the 32-byte block
//     header (ngx_pool_data_t), as on 64-bit nginx; a block never grows.
//   - Small requests (size <= max = min(pool size - 80, pagesize - 1)) are
//     bumped first-fit over the blocks from `current` to the newest. When
//     none fits, a new block of the first block's size is appended (a spill)
//     and the request is placed right after its header; while appending,
//     every block from `current` up to (excluding) the newest gets a miss,
//     and a block whose miss counter already stood above 4 (its sixth miss)
//     moves `current` past it for good. The free bytes left behind in a block
//     that `current` passes are counted as wasted.
//   - Larger requests go to the process malloc and are tracked in the pool's
//     large list. A new one first reuses an emptied (NULL) node among the
//     first five nodes of the list; otherwise a 16-byte node is allocated
//     from the pool itself (small path) and pushed at the head.
//   - deallocate(scope, ...) is ngx_pfree: it frees a large block and NULLs
//     its node; for a small block it does nothing.
//   - add_cleanup() registers handlers (24-byte nodes from the pool) that
//     run in LIFO order when the pool is destroyed.
//   - close_scope() is ngx_destroy_pool: cleanups, then large blocks, then
//     every block. reset_scope() is ngx_reset_pool: large blocks are freed,
//     every block is kept and rewound to 80 bytes past its start (later
//     blocks too, so after a reset they offer 48 bytes less than when new,
//     as in nginx), miss counters cleared, `current` back to the first block.
//   - Requests aligned beyond 16 take the ngx_pmemalign path:
//     posix_memalign from the process malloc, tracked by a new large node
//     (no NULL-slot reuse).
// Pool sizes by scope kind: connection 512 (connection_pool_size default
// 64 * sizeof(void*)), request 4096 (request_pool_size default), child 4096:
// nginx has no nested pools; the pools it creates inside one request's
// lifetime (HTTP/2 stream requests, ngx_http_autoindex_module's temporary
// pool) use 4096.
//
// Deviations, all forced by the backend contract:
//   - Alignment: ngx_palloc aligns to NGX_ALIGNMENT (8). The contract wants
//     required_alignment(size, align), so a small block is aligned to
//     max(8, required_alignment): 16 for sizes of 16 and up. This costs up to
//     8 bytes of padding per allocation that nginx would not spend.
//   - Size 0 takes one byte of the block, so that each result is unique
//     (ngx_palloc(0) returns the same pointer twice).
//   - Requests above 1 TiB are refused without asking upstream, so a
//     refusal never depends on the base allocator (a sanitizer's malloc
//     aborts on such sizes).
//   - Nesting: a child scope is an independent pool whose destruction is
//     registered in its parent's cleanup list, the way nginx ties a lifetime
//     to a pool (ngx_pool_cleanup_add). Closing the child early disarms that
//     node (handler = NULL, as ngx_pool_run_cleanup_file does); the parent's
//     next child reuses a disarmed node among the first five of the list, so
//     a keep-alive connection does not grow by a node per request. A reset
//     destroys the open children (their nodes live in the rewound blocks)
//     and drops the cleanup list unrun: nginx keeps that list pointing into
//     rewound memory, which is only safe when it is empty.
//   - Top-level scopes are registered in the backend through 32-byte links
//     kept for reuse; they count in reserved_bytes until release_to_os().
//
// Statistics: in_use_bytes counts requested bytes only; the pool's own
// nodes (large, cleanup, child links) and padding count in reserved_bytes,
// which is every block plus every live large block, as nginx holds them.
// spills = blocks appended; wasted_bytes = free bytes of blocks `current`
// passed; no configured limit exists, so rejections stay 0.
//
// Options: connection_pool_size=SIZE (512), request_pool_size=SIZE (4096),
// child_pool_size=SIZE (4096). As nginx requires, each is a multiple of 16
// and at least 112 (NGX_MIN_POOL_SIZE); otherwise std::invalid_argument.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"

namespace alloclab {

class alignas(64) NginxBackend {
 public:
  // Only large blocks come back before their scope closes (ngx_pfree), so
  // the backend does not free individually.
  static constexpr Capabilities capabilities{
      .frees_individually = false, .scoped = true, .thread_safe = false};

  static constexpr std::size_t kPoolAlignment = 16;  // NGX_POOL_ALIGNMENT
  static constexpr std::size_t kNgxAlignment = 8;    // NGX_ALIGNMENT, sizeof(uintptr_t)
  static constexpr std::size_t kMinPoolSize = 112;   // NGX_MIN_POOL_SIZE: align(80 + 2 * 16, 16)
  static constexpr std::size_t kLargeScan = 5;       // nodes ngx_palloc_large inspects for a NULL slot
  static constexpr std::size_t kMaxRequest = std::size_t{1} << 40;

 private:
  // ngx_pool_data_t: the header of every block (32 bytes).
  struct Block {
    char* last;             // first free byte; block start + header <= last <= end
    char* end;              // one past the block; end - start == the pool size
    Block* next;            // next newer block of the pool; null for the newest
    std::uint32_t failed;   // misses; `current` has passed this block once it exceeds 5
    std::uint32_t max;      // first block only: largest small request
  };
  struct Large {            // ngx_pool_large_t, 16 bytes from the pool
    Large* next;
    void* alloc;            // null once freed by pfree; the node may be reused
  };
  struct Cleanup {          // ngx_pool_cleanup_t, 24 bytes from the pool
    void (*handler)(void*); // null: disarmed (skipped)
    void* data;
    Cleanup* next;          // older node
  };
  // ngx_pool_t (80 bytes on 64-bit). max sits in the block header's spare
  // half (d.max); the places of nginx's max, chain and log hold the
  // accounting and the nesting link. The size, and so every block layout,
  // is nginx's.
  struct Pool {
    Block d;
    Block* current;         // first block small requests try; never moves back except on reset
    Large* large;           // newest first
    Cleanup* cleanup;       // newest first; run in this order on destroy
    std::uint64_t in_use;   // requested bytes handed out from this pool, large ones included
    std::uint64_t large_bytes;  // requested bytes of the live large blocks
    Cleanup* owner;         // the node that destroys this pool: in the parent's cleanup list,
                            // or the RootLink of a top-level pool
  };
  static_assert(sizeof(Block) == 32 && sizeof(Pool) == 80 && sizeof(Large) == 16 && sizeof(Cleanup) == 24);
  // A top-level pool's registration in the backend (doubly linked, so any
  // can close in O(1)).
  struct RootLink {
    Cleanup c;              // handler == root_tag, data == the pool, next == newer-to-older link
    RootLink* prev;
  };

 public:
  using Scope = Pool*;
  using CleanupHandler = void (*)(void*);

  NginxBackend() : NginxBackend(BackendOptions{}) {}
  explicit NginxBackend(const BackendOptions& opts)
      : pool_size_{checked_pool_size(opts, "connection_pool_size", 64 * sizeof(void*)),
                   checked_pool_size(opts, "request_pool_size", 4096),
                   checked_pool_size(opts, "child_pool_size", 4096)},
        max_from_pool_(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) - 1) {}
  NginxBackend(const NginxBackend&) = delete;
  NginxBackend& operator=(const NginxBackend&) = delete;
  ~NginxBackend() {
    while (roots_) close_scope(static_cast<Pool*>(roots_->c.data));
    release_to_os();
  }

  // --- unscoped: the base allocator ---------------------------------------
  void* allocate(std::size_t size, std::size_t align) noexcept {
    if (size > kMaxRequest || align > kMaxRequest) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    return fallthrough_allocate(stats_, size, align);
  }
  void deallocate(void* p, std::size_t size, std::size_t) noexcept {
    fallthrough_deallocate(stats_, p, size);
  }

  // --- scopes ----------------------------------------------------------------
  // ngx_create_pool. A child is registered in its parent's cleanup list.
  Scope open_scope(ScopeKind kind, Scope parent) {
    Pool* pool = create_pool(pool_size_[static_cast<std::size_t>(kind)]);
    if (pool == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    Cleanup* link = parent ? child_link(parent) : root_link();
    if (link == nullptr) {
      destroy(pool);
      ++stats_.failed_allocations;
      return nullptr;
    }
    link->data = pool;
    pool->owner = link;
    return pool;
  }

  // ngx_palloc (ngx_pmemalign for alignments beyond 16).
  void* allocate(Scope s, std::size_t size, std::size_t align) noexcept {
    if (size <= s->d.max && align <= kPoolAlignment) [[likely]] {
      std::size_t a = required_alignment(size, align);
      if (a < kNgxAlignment) a = kNgxAlignment;
      std::size_t n = size == 0 ? 1 : size;
      Block* b = s->current;
      char* m = align_ptr(b->last, a);
      void* p;
      if (static_cast<std::size_t>(b->end - m) >= n) [[likely]] {
        b->last = m + n;
        p = m;
      } else {
        p = palloc_small_rest(s, b->next, n, a);
        if (p == nullptr) {
          ++stats_.failed_allocations;
          return nullptr;
        }
      }
      s->in_use += size;
      stats_.in_use_bytes += size;
      return p;
    }
    return align <= kPoolAlignment ? palloc_large(s, size) : pmemalign(s, size, align);
  }

  // ngx_pfree: only a large block is freed (and its node emptied).
  void deallocate(Scope s, void* p, std::size_t size, std::size_t align) noexcept {
    if (p == nullptr || (size <= s->d.max && align <= kPoolAlignment)) return;
    for (Large* l = s->large; l; l = l->next) {
      if (l->alloc == p) {
        std::free(p);
        l->alloc = nullptr;
        s->in_use -= size;
        s->large_bytes -= size;
        stats_.in_use_bytes -= size;
        stats_.reserved_bytes -= size;
        return;
      }
    }
  }

  // ngx_destroy_pool, after unregistering the pool from its parent.
  void close_scope(Scope s) noexcept {
    if (s == nullptr) return;
    if (s->owner->handler == &root_tag) {
      unlink_root(reinterpret_cast<RootLink*>(s->owner));
    } else {
      s->owner->handler = nullptr;  // disarmed; the parent may reuse the node
    }
    destroy(s);
  }

  // ngx_reset_pool. Open children are destroyed first (their handles become
  // invalid) and the cleanup list is dropped without running it (see the
  // header comment).
  void reset_scope(Scope s) noexcept {
    for (Cleanup* c = s->cleanup; c; c = c->next) {
      if (c->handler == &child_tag) destroy(static_cast<Pool*>(c->data));
    }
    s->cleanup = nullptr;
    free_large(s);
    stats_.in_use_bytes -= s->in_use;
    s->in_use = 0;
    for (Block* b = &s->d; b; b = b->next) {
      b->last = reinterpret_cast<char*>(b) + sizeof(Pool);
      b->failed = 0;
    }
    s->current = &s->d;
  }

  // ngx_pool_cleanup_add with a handler: runs handler(data) when the scope
  // is destroyed, after every cleanup added later. False when no node could
  // be allocated.
  bool add_cleanup(Scope s, CleanupHandler handler, void* data) noexcept {
    auto* c = static_cast<Cleanup*>(palloc_small(s, sizeof(Cleanup), kNgxAlignment));
    if (c == nullptr) {
      ++stats_.failed_allocations;
      return false;
    }
    *c = Cleanup{handler, data, s->cleanup};
    s->cleanup = c;
    return true;
  }

  BackendStats stats() const { return stats_; }

  // Returns the retained top-level links; pools themselves keep nothing
  // once destroyed.
  void release_to_os() {
    while (free_roots_) {
      RootLink* r = free_roots_;
      free_roots_ = r->prev;
      stats_.reserved_bytes -= sizeof(RootLink);
      std::free(r);
    }
  }

  // --- inspection (tests, reports; walks lists) -----------------------------
  struct BlockInfo {
    std::size_t size;       // bytes obtained from upstream for the block
    std::size_t free;       // end - last
    std::uint32_t failed;
  };
  std::vector<BlockInfo> blocks(Scope s) const {
    std::vector<BlockInfo> v;
    for (const Block* b = &s->d; b; b = b->next) {
      v.push_back({static_cast<std::size_t>(b->end - reinterpret_cast<const char*>(b)),
                   static_cast<std::size_t>(b->end - b->last), b->failed});
    }
    return v;
  }
  // Index of `current` in blocks().
  std::size_t current_block(Scope s) const {
    std::size_t i = 0;
    for (const Block* b = &s->d; b != s->current; b = b->next) ++i;
    return i;
  }
  // Nodes in the large list, and how many of them hold a live block.
  std::size_t large_nodes(Scope s) const {
    std::size_t n = 0;
    for (const Large* l = s->large; l; l = l->next) ++n;
    return n;
  }
  std::size_t large_live(Scope s) const {
    std::size_t n = 0;
    for (const Large* l = s->large; l; l = l->next) n += l->alloc != nullptr;
    return n;
  }
  std::size_t max_small(Scope s) const { return s->d.max; }
  std::size_t pool_size(ScopeKind kind) const { return pool_size_[static_cast<std::size_t>(kind)]; }
  static constexpr std::size_t pool_header_bytes() { return sizeof(Pool); }
  static constexpr std::size_t block_header_bytes() { return sizeof(Block); }
  static constexpr std::size_t large_node_bytes() { return sizeof(Large); }
  static constexpr std::size_t cleanup_node_bytes() { return sizeof(Cleanup); }
  static constexpr std::size_t root_link_bytes() { return sizeof(RootLink); }

 private:
  // Never called: they mark a cleanup node that destroys a child pool or
  // registers a top-level one.
  static void child_tag(void*) noexcept {}
  static void root_tag(void*) noexcept {}

  static std::size_t checked_pool_size(const BackendOptions& opts, const char* key, std::size_t fallback) {
    std::uint64_t v = opts.size(key, fallback);
    if (v < kMinPoolSize || v % kPoolAlignment != 0 || v > kMaxRequest) {
      throw std::invalid_argument(std::string("nginx: ") + key + " must be a multiple of 16 and at least " +
                                  std::to_string(kMinPoolSize));
    }
    return static_cast<std::size_t>(v);
  }

  static char* align_ptr(char* p, std::size_t a) noexcept {
    return reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(p) + a - 1) & ~(std::uintptr_t{a} - 1));
  }

  static void* memalign16(std::size_t size) noexcept {
    void* p = nullptr;
    return ::posix_memalign(&p, kPoolAlignment, size) == 0 ? p : nullptr;
  }

  Pool* create_pool(std::size_t size) noexcept {
    auto* p = static_cast<Pool*>(memalign16(size));
    if (p == nullptr) return nullptr;
    std::size_t avail = size - sizeof(Pool);
    p->d = Block{reinterpret_cast<char*>(p) + sizeof(Pool), reinterpret_cast<char*>(p) + size, nullptr, 0,
                 static_cast<std::uint32_t>(avail < max_from_pool_ ? avail : max_from_pool_)};
    p->current = &p->d;
    p->large = nullptr;
    p->cleanup = nullptr;
    p->in_use = 0;
    p->large_bytes = 0;
    p->owner = nullptr;
    stats_.reserved_bytes += size;
    return p;
  }

  // ngx_palloc_small. n <= max; a <= 16.
  void* palloc_small(Pool* pool, std::size_t n, std::size_t a) noexcept {
    return palloc_small_rest(pool, pool->current, n, a);
  }
  void* palloc_small_rest(Pool* pool, Block* b, std::size_t n, std::size_t a) noexcept {
    for (; b; b = b->next) {
      char* m = align_ptr(b->last, a);
      if (static_cast<std::size_t>(b->end - m) >= n) {
        b->last = m + n;
        return m;
      }
    }
    return palloc_block(pool, n, a);
  }

  // ngx_palloc_block: a new block of the first block's size, holding the
  // request; misses charged to the blocks from `current` to the old newest.
  void* palloc_block(Pool* pool, std::size_t n, std::size_t a) noexcept {
    auto psize = static_cast<std::size_t>(pool->d.end - reinterpret_cast<char*>(pool));
    auto* nb = static_cast<Block*>(memalign16(psize));
    if (nb == nullptr) return nullptr;
    char* m = align_ptr(reinterpret_cast<char*>(nb) + sizeof(Block), a);
    *nb = Block{m + n, reinterpret_cast<char*>(nb) + psize, nullptr, 0, 0};
    Block* b = pool->current;
    for (; b->next; b = b->next) {
      if (b->failed++ > 4) {
        stats_.wasted_bytes += static_cast<std::uint64_t>(b->end - b->last);
        pool->current = b->next;
      }
    }
    b->next = nb;
    stats_.reserved_bytes += psize;
    ++stats_.spills;
    return m;
  }

  // Pushes a new large node for p; false when the pool cannot hold one.
  bool push_large(Pool* pool, void* p) noexcept {
    auto* l = static_cast<Large*>(palloc_small(pool, sizeof(Large), kNgxAlignment));
    if (l == nullptr) return false;
    *l = Large{pool->large, p};
    pool->large = l;
    return true;
  }

  void account_large(Pool* pool, std::size_t size) noexcept {
    pool->in_use += size;
    pool->large_bytes += size;
    stats_.in_use_bytes += size;
    stats_.reserved_bytes += size;
  }

  // ngx_palloc_large.
  void* palloc_large(Pool* pool, std::size_t size) noexcept {
    void* p = size <= kMaxRequest ? std::malloc(size) : nullptr;
    if (p == nullptr) {
      ++stats_.failed_allocations;
      return nullptr;
    }
    std::size_t n = 0;
    for (Large* l = pool->large; l; l = l->next) {
      if (l->alloc == nullptr) {
        l->alloc = p;
        account_large(pool, size);
        return p;
      }
      if (n++ > 3) break;
    }
    if (!push_large(pool, p)) {
      std::free(p);
      ++stats_.failed_allocations;
      return nullptr;
    }
    account_large(pool, size);
    return p;
  }

  // ngx_pmemalign: always a new node.
  void* pmemalign(Pool* pool, std::size_t size, std::size_t align) noexcept {
    void* p = nullptr;
    if (size > kMaxRequest || align > kMaxRequest || ::posix_memalign(&p, align, size == 0 ? 1 : size) != 0) {
      p = nullptr;
    }
    if (p == nullptr || !push_large(pool, p)) {
      std::free(p);
      ++stats_.failed_allocations;
      return nullptr;
    }
    account_large(pool, size);
    return p;
  }

  void free_large(Pool* pool) noexcept {
    for (Large* l = pool->large; l; l = l->next) {
      if (l->alloc) std::free(l->alloc);
    }
    pool->large = nullptr;
    stats_.reserved_bytes -= pool->large_bytes;
    pool->large_bytes = 0;
  }

  // ngx_destroy_pool: cleanups (children among them) LIFO, large blocks,
  // then every block.
  void destroy(Pool* pool) noexcept {
    for (Cleanup* c = pool->cleanup; c; c = c->next) {
      if (c->handler == &child_tag) {
        destroy(static_cast<Pool*>(c->data));
      } else if (c->handler) {
        c->handler(c->data);
      }
    }
    free_large(pool);
    stats_.in_use_bytes -= pool->in_use;
    auto psize = static_cast<std::uint64_t>(pool->d.end - reinterpret_cast<char*>(pool));
    Block* b = &pool->d;
    while (b) {
      Block* next = b->next;
      stats_.reserved_bytes -= psize;
      std::free(b);
      b = next;
    }
  }

  // A node in parent's cleanup list for a new child: a disarmed one among
  // the first kLargeScan nodes, else a new one from the parent pool.
  Cleanup* child_link(Pool* parent) noexcept {
    std::size_t n = 0;
    for (Cleanup* c = parent->cleanup; c && n < kLargeScan; c = c->next, ++n) {
      if (c->handler == nullptr) {
        c->handler = &child_tag;
        return c;
      }
    }
    auto* c = static_cast<Cleanup*>(palloc_small(parent, sizeof(Cleanup), kNgxAlignment));
    if (c == nullptr) return nullptr;
    *c = Cleanup{&child_tag, nullptr, parent->cleanup};
    parent->cleanup = c;
    return c;
  }

  Cleanup* root_link() noexcept {
    RootLink* r = free_roots_;
    if (r) {
      free_roots_ = r->prev;
    } else {
      r = static_cast<RootLink*>(std::malloc(sizeof(RootLink)));
      if (r == nullptr) return nullptr;
      stats_.reserved_bytes += sizeof(RootLink);
    }
    *r = RootLink{Cleanup{&root_tag, nullptr, roots_ ? &roots_->c : nullptr}, nullptr};
    if (roots_) roots_->prev = r;
    roots_ = r;
    return &r->c;
  }

  void unlink_root(RootLink* r) noexcept {
    auto* next = reinterpret_cast<RootLink*>(r->c.next);
    if (r->prev) r->prev->c.next = r->c.next;
    else roots_ = next;
    if (next) next->prev = r->prev;
    r->prev = free_roots_;  // the free list is chained through prev
    free_roots_ = r;
  }

  std::size_t pool_size_[3];   // by ScopeKind
  std::size_t max_from_pool_;  // NGX_MAX_ALLOC_FROM_POOL: pagesize - 1
  RootLink* roots_ = nullptr;  // open top-level pools, newest first
  RootLink* free_roots_ = nullptr;
  BackendStats stats_;
};

static_assert(ScopedBackend<NginxBackend>);
static_assert(HasStats<NginxBackend>);
static_assert(ReleasesToOs<NginxBackend>);

}  // namespace alloclab
