// haproxy: HAProxy's memory pools. Modelled on HAProxy 3.5-dev (commit
// 50872daa, 2026-08): src/pool.c (create_pool_from_reg, __pool_alloc,
// __pool_free, pool_put_to_cache, pool_evict_from_local_cache(s),
// pool_evict_last_items, pool_refill_local_from_shared,
// pool_put_to_shared_cache, pool_flush), include/haproxy/pool.h
// (pool_get_from_cache, pool_releasable), include/haproxy/pool-t.h,
// include/haproxy/defaults.h and include/haproxy/freq_ctr.h (swrate).
//
// Semantics kept:
//   - One pool per object size. HAProxy declares a pool per type, raises its
//     size to at least sizeof(struct pool_cache_item) (32 bytes) and rounds
//     it up to 16, then merges pools of equal rounded size; here the object
//     type is unknown, so every request size maps to the pool of its rounded
//     size, which is what merging yields for equal rounded sizes.
//   - Freed objects go to the freeing thread's cache (also when another
//     thread allocated them), at the head of the pool's list and of the
//     thread's LRU list; allocation takes the hottest object (LIFO). The
//     lists are threaded through the free objects themselves.
//   - A thread's caches hold at most hot_size bytes (CONFIG_HAP_POOL_CACHE_SIZE
//     / tune.memory.hot-size, 512 KiB). Beyond 3/4 of it, a free into a pool
//     holding at least 16 + count/8 + 8 cached objects evicts that pool's
//     oldest objects; beyond the whole budget, the thread's least recently
//     used objects are evicted, from any pool, down to 7/8 of it. Eviction
//     works in clusters of CONFIG_HAP_POOL_CLUSTER_SIZE (8) objects.
//   - An evicted cluster goes to the pool's shared free list while the pool
//     holds fewer objects than 5/4 of its sliding average need
//     (pool_releasable, POOL_AVG_SAMPLES 1024), otherwise back to the OS. A
//     thread whose cache for a pool is empty takes a whole cluster from the
//     shared list before asking the OS. The shared list is HAProxy's
//     lock-free stack with a BUSY marker as a short-lived lock on pop.
//   - An object larger than the whole cache budget is never cached.
//   - A global memory limit (HAProxy's -m, which caps the process with
//     RLIMIT_DATA): an allocation that would take the backend's upstream
//     bytes past it returns nullptr, counted in rejections and
//     failed_allocations; nothing aborts.
//   - A size above the largest pool (max_size) or an alignment above 16 goes
//     to the base allocator, counted as fall-through.
// Simplified:
//   - One shared-list bucket per pool (HAProxy shards the list and the
//     counters over CONFIG_HAP_POOL_BUCKETS by pointer hash).
//   - Pools are indexed by rounded size in an array built at construction;
//     HAProxy's merging of *similar* sizes (within 1% or 16 bytes of a
//     pool's average) needs the per-type registrations and is not modelled,
//     nor are per-pool limits/minavail (0 for almost all pools), aligned
//     pools (DECLARE_ALIGNED_POOL) or the debugging options.
//   - The per-thread state belongs to the backend instance: a thread finds
//     its cache through a one-entry thread_local slot keyed by the instance,
//     and a registry (mutex, slow path) the first time. A thread's cache
//     outlives the thread and is adopted by a later thread with the same id.
//   - release_to_os() frees every cached and shared object; like pool_gc()
//     (which runs under thread_isolate()), it must not run concurrently with
//     allocations. It does not call malloc_trim() (trim_all_pools).
//   - The average-need counters are 64-bit (HAProxy: 32-bit, which wraps
//     above about 4 M objects per pool).
//
// Options:
//   hot_size=SIZE  per-thread cache budget (default 512k,
//                  CONFIG_HAP_POOL_CACHE_SIZE in include/haproxy/defaults.h).
//   limit=SIZE     global memory limit, -m (default 0 = none).
//   max_size=SIZE  largest pooled size (default 16k, BUFSIZE = tune.bufsize,
//                  HAProxy's largest common pool: the buffers; at most 1m).
//   global=BOOL    shared free lists (default on). HAProxy builds with
//                  threads on glibc >= 2.26 define CONFIG_HAP_NO_GLOBAL_POOLS
//                  unless CONFIG_HAP_GLOBAL_POOLS is set; global=off models
//                  that build: evicted objects go straight back to malloc.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "allocators/contract.hpp"
#include "allocators/options.hpp"

namespace alloclab {

class HaproxyBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = true, .scoped = false, .thread_safe = true};

  static constexpr std::size_t kClusterSize = 8;      // CONFIG_HAP_POOL_CLUSTER_SIZE
  static constexpr std::size_t kGranule = 16;         // create_pool_from_reg rounding
  static constexpr std::size_t kMinObject = 32;       // sizeof(struct pool_cache_item)
  static constexpr std::uint64_t kAvgSamples = 1024;  // POOL_AVG_SAMPLES

 private:
  // HAProxy's struct list: circular, doubly linked, with a sentinel head.
  struct ListNode {
    ListNode* next;
    ListNode* prev;
  };
  // struct pool_cache_item: overlays a free object held in a thread cache.
  struct CacheItem {
    ListNode by_pool;  // in its pool's list, hottest first
    ListNode by_lru;   // in the thread's LRU list, hottest first
  };
  static_assert(sizeof(CacheItem) == kMinObject);
  // struct pool_item: overlays a free object on a shared list. Clusters hang
  // from `down`; only cluster heads are linked by `next`.
  struct SharedItem {
    SharedItem* next;
    SharedItem* down;
  };

  // struct pool_head, minus configuration it does not need here.
  struct Pool {
    std::size_t size = 0;  // object size: a multiple of 16, at least 32
    // Head of the shared list of clusters; busy_marker() while a thread pops.
    std::atomic<SharedItem*> free_list{nullptr};
    // Objects taken from the OS and not given back.
    std::atomic<std::uint64_t> allocated{0};
    // Objects handed out or sitting in a thread cache (not shared, not OS).
    std::atomic<std::uint64_t> used{0};
    // swrate sum over kAvgSamples of `used`: average need = sum / 1024.
    std::atomic<std::uint64_t> needed_avg{0};
    std::atomic<std::uint64_t> shared_objects{0};  // objects on free_list
  };

  // struct pool_cache_head: one thread's cache of one pool.
  struct CacheHead {
    ListNode list;  // CacheItem::by_pool nodes; the first member (evict_from_local_caches)
    std::size_t count;
  };

  // One thread's state in this instance. Only its owner thread touches the
  // lists and the plain counters; other threads read the atomics.
  // Invariants: cache_count == sum of heads[i].count; cache_bytes ==
  // sum of heads[i].count * pools_[i].size; `lru` holds exactly the items of
  // all heads[i].list, and within one pool both lists have the same order.
  struct ThreadCtx {
    std::thread::id owner;
    ListNode lru;  // pool_lru_head
    std::size_t cache_bytes = 0;
    std::size_t cache_count = 0;
    std::unique_ptr<CacheHead[]> heads;
    // Bytes handed out by this thread minus bytes freed by it (wraps; the
    // sum over threads is exact).
    std::atomic<std::uint64_t> in_use{0};
  };

  // This thread's last instance (0 = none: instance ids start at 1).
  struct TlsSlot {
    std::uint64_t instance;
    ThreadCtx* ctx;
  };
  static inline thread_local TlsSlot tls_{};
  static inline std::atomic<std::uint64_t> next_instance_{1};

 public:
  HaproxyBackend() : HaproxyBackend(BackendOptions{}) {}
  explicit HaproxyBackend(const BackendOptions& opts)
      : hot_size_(opts.size("hot_size", 524288)),
        limit_(opts.size("limit", 0)),
        max_size_(opts.size("max_size", 16384)),
        global_(opts.flag("global", true)) {
    if (hot_size_ == 0) hot_size_ = 1;  // HAProxy requires a positive hot-size
    if (hot_size_ > (std::size_t{1} << 40)) hot_size_ = std::size_t{1} << 40;
    // The pool table has max_size / 16 entries per thread: cap it at 1 MiB.
    if (max_size_ < kMinObject) max_size_ = kMinObject;
    if (max_size_ > (std::size_t{1} << 20)) max_size_ = std::size_t{1} << 20;
    nclasses_ = pool_size(max_size_) / kGranule + 1;
    pools_ = std::make_unique<Pool[]>(nclasses_);
    for (std::size_t i = 0; i < nclasses_; ++i) pools_[i].size = i * kGranule;
    meta_bytes_ = nclasses_ * sizeof(Pool);
  }
  HaproxyBackend(const HaproxyBackend&) = delete;
  HaproxyBackend& operator=(const HaproxyBackend&) = delete;
  ~HaproxyBackend() {
    release_to_os();
    if (tls_.instance == id_) tls_ = TlsSlot{};
  }

  // The pool object size serving a request of `size` bytes.
  static constexpr std::size_t pool_size(std::size_t size) noexcept {
    return align_up(size < kMinObject ? kMinObject : size, kGranule);
  }

  // __pool_alloc.
  void* allocate(std::size_t size, std::size_t align) noexcept {
    if (size > max_size_ || align > kMinAlign) [[unlikely]] return allocate_fallthrough(size, align);
    ThreadCtx* t = ctx();
    if (t == nullptr) [[unlikely]] return fail(false);
    std::size_t cls = pool_size(size) / kGranule;
    Pool& pool = pools_[cls];
    CacheHead& ph = t->heads[cls];
    if (ph.count == 0 && global_) refill_local_from_shared(pool, *t, ph);
    void* p;
    if (ph.count != 0) [[likely]] {
      // pool_get_from_cache: the hottest object.
      auto* item = reinterpret_cast<CacheItem*>(ph.list.next);
      unlink(&item->by_pool);
      unlink(&item->by_lru);
      --ph.count;
      --t->cache_count;
      t->cache_bytes -= pool.size;
      p = item;
    } else {
      p = alloc_nocache(pool);
      if (p == nullptr) return nullptr;  // counted by alloc_nocache
    }
    t->in_use.store(t->in_use.load(std::memory_order_relaxed) + size, std::memory_order_relaxed);
    return p;
  }

  // __pool_free.
  void deallocate(void* p, std::size_t size, std::size_t align) noexcept {
    if (p == nullptr) return;
    if (size > max_size_ || align > kMinAlign) [[unlikely]] {
      deallocate_fallthrough(p, size);
      return;
    }
    Pool& pool = pools_[pool_size(size) / kGranule];
    ThreadCtx* t = ctx();
    if (t == nullptr || pool.size > hot_size_) [[unlikely]] {
      if (t == nullptr) in_use_orphan_.fetch_sub(size, std::memory_order_relaxed);
      else t->in_use.store(t->in_use.load(std::memory_order_relaxed) - size, std::memory_order_relaxed);
      free_nocache(pool, p);
      return;
    }
    t->in_use.store(t->in_use.load(std::memory_order_relaxed) - size, std::memory_order_relaxed);
    put_to_cache(pool, *t, t->heads[pool.size / kGranule], p);
  }

  BackendStats stats() const {
    BackendStats s;
    std::uint64_t in_use = in_use_orphan_.load(std::memory_order_relaxed);
    {
      std::lock_guard lock(threads_mutex_);
      for (const auto& t : threads_) in_use += t->in_use.load(std::memory_order_relaxed);
    }
    s.in_use_bytes = in_use;
    s.reserved_bytes = upstream_bytes_.load(std::memory_order_relaxed) + meta_bytes_.load(std::memory_order_relaxed);
    s.failed_allocations = failed_.load(std::memory_order_relaxed);
    s.fallthrough_allocations = fallthrough_.load(std::memory_order_relaxed);
    s.rejections = rejections_.load(std::memory_order_relaxed);
    return s;
  }

  // Frees every object cached by any thread and every shared object
  // (pool_evict_from_local_cache(pool, 1) on each thread, then pool_flush).
  // Must not run concurrently with allocate/deallocate.
  void release_to_os() {
    std::lock_guard lock(threads_mutex_);
    for (auto& t : threads_) {
      for (std::size_t cls = 0; cls < nclasses_; ++cls) {
        CacheHead& ph = t->heads[cls];
        while (ph.count != 0) {
          auto* item = reinterpret_cast<CacheItem*>(ph.list.prev);
          unlink(&item->by_pool);
          unlink(&item->by_lru);
          --ph.count;
          pools_[cls].used.fetch_sub(1, std::memory_order_relaxed);
          pools_[cls].allocated.fetch_sub(1, std::memory_order_relaxed);
          put_to_os(pools_[cls], item);
        }
      }
      t->cache_count = 0;
      t->cache_bytes = 0;
    }
    for (std::size_t cls = 0; cls < nclasses_; ++cls) {
      Pool& pool = pools_[cls];
      SharedItem* next = pool.free_list.exchange(nullptr, std::memory_order_acquire);
      while (next != nullptr) {
        SharedItem* cluster = next;
        next = cluster->next;
        for (SharedItem* down; cluster != nullptr; cluster = down) {
          down = cluster->down;
          pool.allocated.fetch_sub(1, std::memory_order_relaxed);
          put_to_os(pool, cluster);
        }
      }
      pool.shared_objects.store(0, std::memory_order_relaxed);
    }
  }

  // --- introspection (tests, reports); "this thread" = the calling thread --
  std::size_t cached_bytes() noexcept {
    ThreadCtx* t = ctx();
    return t ? t->cache_bytes : 0;
  }
  // Per pool, by a request size it serves (0 for a size above max_size).
  std::size_t cached_objects(std::size_t size) noexcept {
    ThreadCtx* t = ctx();
    return t && size <= max_size_ ? t->heads[pool_size(size) / kGranule].count : 0;
  }
  std::uint64_t shared_objects(std::size_t size) const noexcept {
    return size <= max_size_ ? pools_[pool_size(size) / kGranule].shared_objects.load(std::memory_order_relaxed) : 0;
  }
  // Objects of the pool held from the OS (HAProxy's "allocated").
  std::uint64_t allocated_objects(std::size_t size) const noexcept {
    return size <= max_size_ ? pools_[pool_size(size) / kGranule].allocated.load(std::memory_order_relaxed) : 0;
  }
  // Pool objects taken from the OS since construction.
  std::uint64_t os_allocations() const noexcept { return os_allocs_.load(std::memory_order_relaxed); }
  // Clusters pushed to shared lists, objects evicted straight to the OS.
  std::uint64_t clusters_to_shared() const noexcept { return clusters_shared_.load(std::memory_order_relaxed); }
  std::uint64_t evicted_to_os() const noexcept { return evicted_os_.load(std::memory_order_relaxed); }
  std::size_t hot_size() const noexcept { return hot_size_; }

 private:
  // POOL_BUSY: the value a popping thread leaves in a shared list head.
  static SharedItem* busy_marker() noexcept { return reinterpret_cast<SharedItem*>(std::uintptr_t{1}); }

  static void init_list(ListNode* h) noexcept { h->next = h->prev = h; }
  static void insert_head(ListNode* h, ListNode* n) noexcept {
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
  }
  static void unlink(ListNode* n) noexcept {
    n->prev->next = n->next;
    n->next->prev = n->prev;
  }
  static void cpu_relax(unsigned& spins) noexcept {
    if (++spins % 64 == 0) std::this_thread::yield();
#if defined(__x86_64__) || defined(__i386__)
    else __builtin_ia32_pause();
#endif
  }

  ThreadCtx* ctx() noexcept {
    if (tls_.instance == id_) [[likely]] return tls_.ctx;
    return ctx_slow();
  }

  ThreadCtx* ctx_slow() noexcept {
    std::thread::id me = std::this_thread::get_id();
    std::lock_guard lock(threads_mutex_);
    ThreadCtx* found = nullptr;
    for (auto& t : threads_) {
      if (t->owner == me) found = t.get();
    }
    if (found == nullptr) {
      auto t = std::unique_ptr<ThreadCtx>(new (std::nothrow) ThreadCtx);
      if (!t) return nullptr;
      t->heads.reset(new (std::nothrow) CacheHead[nclasses_]);
      if (!t->heads) return nullptr;
      t->owner = me;
      init_list(&t->lru);
      for (std::size_t i = 0; i < nclasses_; ++i) {
        init_list(&t->heads[i].list);
        t->heads[i].count = 0;
      }
      found = t.get();
      try {
        threads_.push_back(std::move(t));
      } catch (...) {
        return nullptr;
      }
      meta_bytes_.fetch_add(sizeof(ThreadCtx) + nclasses_ * sizeof(CacheHead), std::memory_order_relaxed);
    }
    tls_ = TlsSlot{id_, found};
    return found;
  }

  void* fail(bool rejected) noexcept {
    failed_.fetch_add(1, std::memory_order_relaxed);
    if (rejected) rejections_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }

  // Reserves `bytes` of upstream memory under the global limit.
  bool charge(std::size_t bytes) noexcept {
    std::uint64_t after = upstream_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    if (limit_ != 0 && (after > limit_ || after < bytes)) {
      upstream_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

  void* allocate_fallthrough(std::size_t size, std::size_t align) noexcept {
    std::size_t charged = size == 0 ? 1 : size;
    if (!charge(charged)) return fail(true);
    void* p = nullptr;
    // malloc guarantees only the alignment a block of this size could need
    // (jemalloc and mimalloc hand out 8-aligned 1-byte blocks).
    if (align <= required_alignment(size, 1)) {
      p = std::malloc(size);
    } else if (::posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align, size) != 0) {
      p = nullptr;
    }
    if (p == nullptr) {
      upstream_bytes_.fetch_sub(charged, std::memory_order_relaxed);
      return fail(false);
    }
    fallthrough_.fetch_add(1, std::memory_order_relaxed);
    add_in_use(size);
    return p;
  }

  void deallocate_fallthrough(void* p, std::size_t size) noexcept {
    std::free(p);
    upstream_bytes_.fetch_sub(size == 0 ? 1 : size, std::memory_order_relaxed);
    add_in_use(std::size_t{0} - size);
  }

  void add_in_use(std::size_t delta) noexcept {
    ThreadCtx* t = ctx();
    if (t == nullptr) {
      in_use_orphan_.fetch_add(delta, std::memory_order_relaxed);
      return;
    }
    t->in_use.store(t->in_use.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  // swrate_add_opportunistic / swrate_add_scaled_opportunistic: one CAS
  // attempt; a lost race drops the sample, as in HAProxy.
  static void swrate_add(std::atomic<std::uint64_t>& sum, std::uint64_t v) noexcept {
    std::uint64_t old = sum.load(std::memory_order_relaxed);
    sum.compare_exchange_strong(old, old - (old + kAvgSamples - 1) / kAvgSamples + v, std::memory_order_relaxed);
  }
  static void swrate_add_scaled(std::atomic<std::uint64_t>& sum, std::uint64_t v, std::uint64_t s) noexcept {
    std::uint64_t old = sum.load(std::memory_order_relaxed);
    sum.compare_exchange_strong(old, old + v * s - (old * s + kAvgSamples - 1) / kAvgSamples,
                                std::memory_order_relaxed);
  }

  // pool_releasable with minavail = 0: how many of the evicted objects the
  // shared list may take.
  std::uint64_t releasable(const Pool& pool) const noexcept {
    if (!global_) return 0;
    std::uint64_t alloc = pool.allocated.load(std::memory_order_relaxed);
    std::uint64_t used = pool.used.load(std::memory_order_relaxed);
    if (used > alloc) alloc = used;
    std::uint64_t raw = pool.needed_avg.load(std::memory_order_relaxed);
    if (alloc < (raw + raw / 4 + kAvgSamples - 1) / kAvgSamples) return used;
    return 0;
  }

  void put_to_os(Pool& pool, void* p) noexcept {
    std::free(p);
    upstream_bytes_.fetch_sub(pool.size, std::memory_order_relaxed);
  }

  // pool_alloc_nocache: one object from the OS, under the global limit.
  void* alloc_nocache(Pool& pool) noexcept {
    if (!charge(pool.size)) return fail(true);
    void* p = std::malloc(pool.size);
    if (p == nullptr) {
      upstream_bytes_.fetch_sub(pool.size, std::memory_order_relaxed);
      return fail(false);
    }
    os_allocs_.fetch_add(1, std::memory_order_relaxed);
    pool.allocated.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t used = pool.used.fetch_add(1, std::memory_order_relaxed);
    swrate_add_scaled(pool.needed_avg, used, kAvgSamples / 4);
    return p;
  }

  // pool_free_nocache.
  void free_nocache(Pool& pool, void* p) noexcept {
    std::uint64_t used = pool.used.fetch_sub(1, std::memory_order_relaxed) - 1;
    pool.allocated.fetch_sub(1, std::memory_order_relaxed);
    swrate_add(pool.needed_avg, used);
    put_to_os(pool, p);
  }

  // pool_put_to_cache.
  void put_to_cache(Pool& pool, ThreadCtx& t, CacheHead& ph, void* p) noexcept {
    auto* item = static_cast<CacheItem*>(p);
    insert_head(&ph.list, &item->by_pool);
    insert_head(&t.lru, &item->by_lru);
    ++ph.count;
    ++t.cache_count;
    t.cache_bytes += pool.size;
    if (t.cache_bytes > hot_size_ * 3 / 4) [[unlikely]] {
      if (ph.count >= 16 + t.cache_count / 8 + kClusterSize) evict_from_local_cache(pool, t, ph);
      if (t.cache_bytes > hot_size_) evict_from_local_caches(t);
    }
  }

  // pool_evict_from_local_cache(pool, 0): a pool holding more than its share
  // of the thread cache gives back its oldest objects.
  void evict_from_local_cache(Pool& pool, ThreadCtx& t, CacheHead& ph) noexcept {
    while (ph.count >= kClusterSize && ph.count >= 16 + t.cache_count / 8 &&
           t.cache_bytes > hot_size_ * 3 / 4) {
      evict_last_items(pool, t, ph, kClusterSize);
    }
  }

  // pool_evict_from_local_caches: the thread's least recently used objects,
  // from whichever pool, until the cache is down to 7/8 of its budget.
  void evict_from_local_caches(ThreadCtx& t) noexcept {
    do {
      ListNode* lru = t.lru.prev;
      auto* item = reinterpret_cast<CacheItem*>(reinterpret_cast<char*>(lru) - offsetof(CacheItem, by_lru));
      // The thread's oldest object is the oldest of its pool too, so the
      // next node in its pool list is that pool's CacheHead.
      auto* ph = reinterpret_cast<CacheHead*>(item->by_pool.next);
      std::size_t cls = static_cast<std::size_t>(ph - t.heads.get());
      evict_last_items(pools_[cls], t, *ph, kClusterSize);
    } while (t.cache_bytes > hot_size_ * 7 / 8);
  }

  // pool_evict_last_items: up to `count` of the pool's oldest cached objects
  // leave the thread cache, as one cluster for the shared list within what
  // the pool may keep, the rest back to the OS.
  void evict_last_items(Pool& pool, ThreadCtx& t, CacheHead& ph, std::size_t count) noexcept {
    std::uint64_t to_free_max = releasable(pool);
    std::size_t released = 0, cluster = 0;
    SharedItem* head = nullptr;
    while (released < count && ph.count - released != 0) {
      auto* item = reinterpret_cast<CacheItem*>(ph.list.prev);
      unlink(&item->by_pool);
      unlink(&item->by_lru);
      std::uint64_t used = pool.used.fetch_sub(1, std::memory_order_relaxed) - 1;
      swrate_add(pool.needed_avg, used);
      if (to_free_max > released || cluster != 0) {
        auto* pi = reinterpret_cast<SharedItem*>(item);
        pi->next = nullptr;
        pi->down = head;
        head = pi;
        if (++cluster >= kClusterSize) {
          put_to_shared(pool, head, cluster);
          cluster = 0;
          head = nullptr;
        }
      } else {
        pool.allocated.fetch_sub(1, std::memory_order_relaxed);
        evicted_os_.fetch_add(1, std::memory_order_relaxed);
        put_to_os(pool, item);
      }
      ++released;
    }
    if (cluster != 0) put_to_shared(pool, head, cluster);
    ph.count -= released;
    t.cache_count -= released;
    t.cache_bytes -= released * pool.size;
  }

  // pool_put_to_shared_cache: push a cluster; waits while a popper holds
  // the list.
  void put_to_shared(Pool& pool, SharedItem* cluster, std::size_t n) noexcept {
    pool.shared_objects.fetch_add(n, std::memory_order_relaxed);
    clusters_shared_.fetch_add(1, std::memory_order_relaxed);
    SharedItem* head = pool.free_list.load(std::memory_order_relaxed);
    unsigned spins = 0;
    do {
      while (head == busy_marker()) {
        cpu_relax(spins);
        head = pool.free_list.load(std::memory_order_relaxed);
      }
      cluster->next = head;
    } while (!pool.free_list.compare_exchange_weak(head, cluster, std::memory_order_release,
                                                   std::memory_order_relaxed));
  }

  // pool_refill_local_from_shared: take one whole cluster into this
  // thread's cache; never calls the OS.
  void refill_local_from_shared(Pool& pool, ThreadCtx& t, CacheHead& ph) noexcept {
    SharedItem* ret = pool.free_list.load(std::memory_order_relaxed);
    unsigned spins = 0;
    do {
      while (ret == busy_marker()) {
        cpu_relax(spins);
        ret = pool.free_list.load(std::memory_order_relaxed);
      }
      if (ret == nullptr) return;
    } while ((ret = pool.free_list.exchange(busy_marker(), std::memory_order_acquire)) == busy_marker());
    if (ret == nullptr) {
      pool.free_list.store(nullptr, std::memory_order_release);
      return;
    }
    pool.free_list.store(ret->next, std::memory_order_release);  // unlocks
    std::size_t count = 0;
    for (SharedItem* down; ret != nullptr; ret = down) {
      down = ret->down;
      auto* item = reinterpret_cast<CacheItem*>(ret);
      insert_head(&ph.list, &item->by_pool);
      insert_head(&t.lru, &item->by_lru);
      ++count;
    }
    pool.used.fetch_add(count, std::memory_order_relaxed);
    pool.shared_objects.fetch_sub(count, std::memory_order_relaxed);
    ph.count += count;
    t.cache_count += count;
    t.cache_bytes += count * pool.size;
  }

  std::size_t hot_size_;
  std::uint64_t limit_;
  std::size_t max_size_;
  bool global_;
  std::size_t nclasses_ = 0;
  const std::uint64_t id_ = next_instance_.fetch_add(1, std::memory_order_relaxed);
  std::unique_ptr<Pool[]> pools_;  // index = object size / 16

  mutable std::mutex threads_mutex_;  // guards threads_ (not the caches)
  std::vector<std::unique_ptr<ThreadCtx>> threads_;

  // Bytes held from upstream: pool objects and fall-through blocks. The
  // global limit applies to it.
  std::atomic<std::uint64_t> upstream_bytes_{0};
  std::atomic<std::uint64_t> meta_bytes_{0};  // pool heads and thread caches
  std::atomic<std::uint64_t> in_use_orphan_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> fallthrough_{0};
  std::atomic<std::uint64_t> rejections_{0};
  std::atomic<std::uint64_t> os_allocs_{0};
  std::atomic<std::uint64_t> clusters_shared_{0};
  std::atomic<std::uint64_t> evicted_os_{0};
};

static_assert(Backend<HaproxyBackend>);
static_assert(HasStats<HaproxyBackend>);
static_assert(ReleasesToOs<HaproxyBackend>);

}  // namespace alloclab
