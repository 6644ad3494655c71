// pool: fixed-size object pools with LIFO free lists, one pool per size
// class (seeds/001 "Pool Allocators (Pre-allocated Free Lists)"; HAProxy's
// per-type pools, src/pool.c and include/haproxy/pool-t.h as of 2026-08).
//
// Semantics kept:
//   - Every size class is a pool of equal-sized objects. A freed object goes
//     to the head of its pool's free list, threaded through the free objects
//     themselves, and is the next one that pool hands out (LIFO: the most
//     recently freed, cache-warm object first, as HAProxy's pool_free and the
//     seed's pool_free do). Allocate and free are O(1): a pop and a push.
//   - Pools are preallocated: construction takes prealloc chunks per class
//     from upstream, so the first allocations make no upstream call. A pool
//     that runs dry takes one more chunk (counted in spills: the pool
//     outgrew its preallocation).
//   - Optional capacity bound: a pool never holds more than capacity objects
//     (HAProxy's pool->limit on pool_allocated(), checked only when the pool
//     must fetch memory). A request beyond it returns nullptr and is counted
//     in rejections (and, as every nullptr is, in failed_allocations).
//   - Objects are sized per HAProxy's rounding of pool sizes to 16 bytes
//     (src/pool.c create_pool, so near-equal types share a pool).
//   - Sizes above the largest class, and alignments above 16, go to the base
//     allocator (counted in fallthrough_allocations).
// Simplified: no per-thread caches, no pool merging by name, no poisoning;
// objects are carved from chunks lazily (never touched before first use)
// instead of threaded through a list at preallocation. release_to_os()
// works per class: a class with no live object gives back every chunk
// beyond its preallocation (HAProxy's pool_flush/pool_gc give back free
// objects one by one; a chunked pool can only give back whole chunks).
//
// Size classes (our choice, for HTTP objects; figures from
// http-workload-facts.md): 16-byte steps to 256 B, which covers header
// entries (nginx ngx_table_elt_t 56 B), header values (half under 15 B) and
// URLs (median 67 B, p99 199 B) with at most 15 B of padding; above that four
// classes per doubling (at most 25% padding) up to 16 KiB, which puts
// nginx's 512 B connection pool, 1 KiB client header buffer, 4 KiB request
// pool, 8 KiB large header buffers and HAProxy's 16 KiB tune.bufsize buffers
// each exactly on a class.
//
// Options: chunk=SIZE object bytes per upstream chunk (default 8k: a chunk of
// a small class holds a request's header list many times over; classes above
// 8k get one object per chunk), prealloc=N chunks per class taken at
// construction (default 1, about 370 KiB in all), capacity=N objects per
// class (default 0: unbounded; HAProxy's pools are unbounded unless
// configured), order=lifo|fifo (default lifo; fifo hands out the free
// object freed longest ago, a queue instead of a stack: the control for
// LIFO's claimed cache benefit, not a strategy any server uses).
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"

namespace alloclab {

namespace pool_detail {

// Object sizes of the pools, ascending; every one a multiple of 16.
inline constexpr std::array<std::uint32_t, 40> kClassSizes{
    16,   32,   48,   64,   80,   96,   112,  128,  144,   160,   176,   192,   208,   224,
    240,  256,  320,  384,  448,  512,  640,  768,  896,  1024,  1280,  1536,  1792,  2048,
    2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384};

constexpr std::array<std::uint8_t, kClassSizes.back() / 16 + 1> make_class_of() {
  std::array<std::uint8_t, kClassSizes.back() / 16 + 1> t{};
  std::size_t c = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    while (kClassSizes[c] < i * 16) ++c;
    t[i] = static_cast<std::uint8_t>(c);
  }
  return t;
}
// (size + 15) / 16 -> class index; entry 0 (size 0) is the 16-byte class.
inline constexpr auto kClassOf = make_class_of();

}  // namespace pool_detail

class alignas(64) PoolBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = true, .scoped = false, .thread_safe = false};

  // Object sizes of the pools, ascending; every one a multiple of 16.
  static constexpr auto kClassSizes = pool_detail::kClassSizes;
  static constexpr std::size_t kClasses = kClassSizes.size();
  static constexpr std::size_t kMaxClassSize = kClassSizes.back();
  // Every object is aligned to 16 (chunk payloads start 16-aligned and every
  // class is a multiple of 16); larger alignments fall through.
  static constexpr std::size_t kObjectAlign = 16;
  static_assert(kMinAlign <= kObjectAlign);

  // The class serving `size` bytes (size <= kMaxClassSize).
  static std::size_t class_index(std::size_t size) noexcept { return pool_detail::kClassOf[(size + 15) >> 4]; }

  PoolBackend() : PoolBackend(BackendOptions{}) {}
  explicit PoolBackend(const BackendOptions& opts)
      : chunk_bytes_(opts.size("chunk", 8192)),
        prealloc_(opts.count("prealloc", 1)),
        capacity_(opts.count("capacity", 0)),
        fifo_(opts.choice("order", {"lifo", "fifo"}, 0) == 1) {
    if (chunk_bytes_ == 0) chunk_bytes_ = 1;
    for (std::size_t i = 0; i < kClasses; ++i) {
      SizeClass& c = classes_[i];
      c.size = kClassSizes[i];
      std::uint64_t n = chunk_bytes_ / c.size;
      c.per_chunk = n == 0 ? 1 : (n > kMaxPerChunk ? kMaxPerChunk : static_cast<std::uint32_t>(n));
      for (std::uint64_t k = 0; k < prealloc_; ++k) {
        if (!grow(c)) break;  // bounded by capacity, or upstream refused
      }
    }
  }
  PoolBackend(const PoolBackend&) = delete;
  PoolBackend& operator=(const PoolBackend&) = delete;
  ~PoolBackend() {
    for (SizeClass& c : classes_) {
      while (c.chunks) {
        Chunk* next = c.chunks->next;
        std::free(c.chunks);
        c.chunks = next;
      }
    }
  }

  void* allocate(std::size_t size, std::size_t align) noexcept {
    if (size <= kMaxClassSize && align <= kObjectAlign) [[likely]] {
      SizeClass& c = classes_[class_index(size)];
      if (void* p = c.free) [[likely]] {
        c.free = *static_cast<void**>(p);
        if (fifo_ && !c.free) [[unlikely]] c.tail = nullptr;
        stats_.in_use_bytes += size;
        return p;
      }
      return carve(c, size);
    }
    return allocate_upstream(size, align);
  }

  void deallocate(void* p, std::size_t size, std::size_t align) noexcept {
    if (p == nullptr) return;
    if (size <= kMaxClassSize && align <= kObjectAlign) [[likely]] {
      SizeClass& c = classes_[class_index(size)];
      if (fifo_) [[unlikely]] {
        enqueue(c, p);
      } else {
        *static_cast<void**>(p) = c.free;
        c.free = p;
      }
      stats_.in_use_bytes -= size;
      return;
    }
    fallthrough_deallocate(stats_, p, size);
  }

  BackendStats stats() const { return stats_; }

  // Every class with no live object gives back the chunks beyond its
  // preallocation; its remaining objects are threaded onto its free list
  // again. O(objects of the class), not a hot path.
  void release_to_os() {
    for (SizeClass& c : classes_) {
      if (c.nchunks <= prealloc_) continue;
      std::uint64_t free_objects = 0;
      for (void* f = c.free; f; f = *static_cast<void**>(f)) ++free_objects;
      if (free_objects != c.carved) continue;  // live objects
      // Chunks are newest first: skip the ones taken after preallocation.
      while (c.nchunks > prealloc_) {
        Chunk* ch = c.chunks;
        c.chunks = ch->next;
        stats_.reserved_bytes -= chunk_bytes(c, ch->objects);
        --c.nchunks;
        std::free(ch);
      }
      // No live objects: every object of the kept chunks is free.
      c.free = c.tail = nullptr;
      c.next = c.end = nullptr;
      c.carved = 0;
      for (Chunk* ch = c.chunks; ch; ch = ch->next) {
        c.carved += ch->objects;
        char* obj = payload(ch);
        for (std::uint32_t k = 0; k < ch->objects; ++k, obj += c.size) push_free(c, obj);
      }
    }
  }

  // Upstream chunk requests since construction, preallocation included.
  std::uint64_t upstream_chunks() const noexcept { return upstream_chunks_; }
  // Objects the pool of `size` holds (handed out, free or not yet carved).
  std::uint64_t pool_objects(std::size_t size) const noexcept {
    const SizeClass& c = classes_[class_index(size)];
    return c.carved + static_cast<std::uint64_t>(c.end - c.next) / c.size;
  }

 private:
  // Upstream chunk of one class: this header, then `objects` objects.
  struct alignas(kObjectAlign) Chunk {
    Chunk* next;            // older chunk of the same class
    std::uint64_t objects;  // objects in this chunk
  };
  static_assert(sizeof(Chunk) % kObjectAlign == 0);

  // One cache line per class; the hot path touches `free` only.
  struct alignas(64) SizeClass {
    // Free objects, most recently freed first (order=fifo: freed longest ago
    // first); each holds the next's address in its first word. Never
    // includes uncarved objects.
    void* free = nullptr;
    void* tail = nullptr;  // order=fifo: the last free object (nullptr when none)
    // Never-used objects of the newest chunk: [next, end). The objects
    // handed out now number carved - |free|.
    char* next = nullptr;
    char* end = nullptr;
    // Objects carved so far from all chunks; with the uncarved ones, never
    // above capacity when a capacity is set.
    std::uint64_t carved = 0;
    Chunk* chunks = nullptr;  // newest first
    std::uint64_t nchunks = 0;
    std::uint32_t size = 0;       // object size, a multiple of 16
    std::uint32_t per_chunk = 0;  // objects per chunk, >= 1
  };

  static constexpr std::uint32_t kMaxPerChunk = std::uint32_t{1} << 20;


  static char* payload(Chunk* ch) noexcept { return reinterpret_cast<char*>(ch + 1); }
  static std::size_t chunk_bytes(const SizeClass& c, std::uint64_t objects) noexcept {
    return sizeof(Chunk) + static_cast<std::size_t>(objects) * c.size;
  }

  // order=fifo: p joins the back of the queue.
  static void enqueue(SizeClass& c, void* p) noexcept {
    *static_cast<void**>(p) = nullptr;
    if (c.tail) *static_cast<void**>(c.tail) = p;
    else c.free = p;
    c.tail = p;
  }
  // A free object, at the front (lifo) or the back (fifo).
  void push_free(SizeClass& c, void* p) noexcept {
    if (fifo_) return enqueue(c, p);
    *static_cast<void**>(p) = c.free;
    c.free = p;
  }

  // The pool's free list is empty: hand out a never-used object, taking a
  // chunk first when the newest one is used up.
  void* carve(SizeClass& c, std::size_t size) noexcept {
    if (c.next == c.end) {
      if (capacity_ != 0 && c.carved >= capacity_) {
        ++stats_.rejections;
        ++stats_.failed_allocations;
        return nullptr;
      }
      if (!grow(c)) {
        ++stats_.failed_allocations;
        return nullptr;
      }
      ++stats_.spills;
    }
    void* p = c.next;
    c.next += c.size;
    ++c.carved;
    stats_.in_use_bytes += size;
    return p;
  }

  // Takes one chunk for c from upstream (at most the objects left under the
  // capacity). Any uncarved objects of the previous chunk are counted as
  // carved-and-free first so that none is lost.
  bool grow(SizeClass& c) noexcept {
    std::uint64_t objects = c.per_chunk;
    if (capacity_ != 0) {
      std::uint64_t held = c.carved + static_cast<std::uint64_t>(c.end - c.next) / c.size;
      if (held >= capacity_) return false;
      if (objects > capacity_ - held) objects = capacity_ - held;
    }
    std::size_t bytes = chunk_bytes(c, objects);
    auto* ch = static_cast<Chunk*>(std::malloc(bytes));
    if (ch == nullptr) return false;
    ++upstream_chunks_;
    while (c.next != c.end) {  // only when prealloc stacks chunks
      push_free(c, c.next);
      c.next += c.size;
      ++c.carved;
    }
    ch->next = c.chunks;
    ch->objects = objects;
    c.chunks = ch;
    ++c.nchunks;
    c.next = payload(ch);
    c.end = c.next + static_cast<std::size_t>(objects) * c.size;
    stats_.reserved_bytes += bytes;
    return true;
  }

  // Sizes above the largest class and alignments above 16: the base
  // allocator.
  void* allocate_upstream(std::size_t size, std::size_t align) noexcept {
    return fallthrough_allocate(stats_, size, align);
  }

  std::uint64_t chunk_bytes_;
  std::uint64_t prealloc_;
  std::uint64_t capacity_;  // objects per class; 0 = unbounded
  bool fifo_;               // order=fifo
  std::uint64_t upstream_chunks_ = 0;
  std::array<SizeClass, kClasses> classes_{};
  BackendStats stats_;
};

static_assert(Backend<PoolBackend>);
static_assert(HasStats<PoolBackend>);
static_assert(ReleasesToOs<PoolBackend>);

}  // namespace alloclab
