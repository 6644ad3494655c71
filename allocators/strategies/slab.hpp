// slab: a kernel-style slab allocator with kmalloc's size classes (Bonwick,
// "The Slab Allocator: An Object-Caching Kernel Memory Allocator", USENIX
// Summer 1994; Linux mm/slab.c up to 6.7 for the three slab lists and
// mm/slub.c for slab sizing and the per-CPU freelist; include/linux/slab.h
// kmalloc_index() for the classes).
//
// Semantics kept:
//   - Classes 8, 16, 32, 64, 96, 128, 192, 256, 512, 1k, 2k, 4k, 8k, chosen
//     as kmalloc_index() does (65-96 B to kmalloc-96, 129-192 B to
//     kmalloc-192). Larger requests go upstream (kmalloc_large), counted in
//     fallthrough_allocations.
//   - Every slab is aligned to its own size, so a free finds its slab by
//     masking the pointer (the kernel's virt_to_slab; here the slab's
//     descriptor sits at its start, as in Bonwick's on-slab layout).
//   - Power-of-two classes are naturally aligned (the kmalloc alignment
//     guarantee, Documentation/core-api/memory-allocation.rst); kmalloc-96
//     objects are 32-aligned, kmalloc-192 objects 64-aligned. A request for a
//     larger alignment moves up to the power-of-two class that has it.
//   - Free objects form a LIFO list threaded through their first word
//     (SLUB's in-object free pointer): the object freed last is handed out
//     next.
//   - Each class allocates from one active slab whose free objects the cache
//     owns (SLUB's kmem_cache_cpu freelist): allocation pops it, a free into
//     the active slab pushes onto it. Frees into other slabs go to that
//     slab's own list.
//   - When the active slab is used up, a partial slab is preferred, then an
//     empty one, then a new one from upstream (mm/slab.c get_first_slab():
//     slabs_partial before slabs_free). A full slab that gets a free joins
//     the partial list at its tail (SLUB's __slab_free), so the slab taken
//     from the head has had longest to collect free objects.
//   - Empty slabs are retained up to a cap per class; a slab that empties
//     beyond the cap goes back upstream at once (mm/slab.c free_block() with
//     free_limit; SLUB's min_partial). release_to_os() deactivates the active
//     slabs and gives back every empty slab (kmem_cache_shrink).
//   - Slab sizes follow SLUB's calculate_order(): the smallest order (up to
//     slub_max_order = PAGE_ALLOC_COSTLY_ORDER = 3, i.e. 32 KiB) holding at
//     least min_objects objects with at most 1/16 of the slab left over,
//     relaxing the leftover to 1/8 then 1/4. The on-slab descriptor counts as
//     leftover.
// Upstream: slabs come from the process allocator's aligned_alloc(slab_size,
// slab_size), the user-space counterpart of the buddy allocator's naturally
// aligned 2^order pages, so slab@jemalloc runs the model over jemalloc. mmap
// was not chosen: it guarantees only page alignment, so each slab would
// cost an over-sized mapping, a trim (two more syscalls) and its own VMA.
// glibc serves aligned_alloc by over-allocating and splitting off the
// slack, which its own free lists then reuse; reserved_bytes counts the
// slab bytes asked for.
// Simplified: one "CPU" (not thread-safe); no per-node lists, no object
// constructors, colouring, redzones or freelist hardening; empties are capped
// per class in slabs rather than per node in objects (SLAB's free_limit) or
// by partial count (SLUB); the descriptor costs the first object slot of the
// large classes (SLUB keeps it in struct slab).
//
// Options: max_empty=N empty slabs retained per class (default SLUB's
// min_partial, clamp(ilog2(size) / 2, 5, 10): 5 or 6 for these classes),
// min_objects=N (default 16: SLUB's 4 * (fls(nr_cpu_ids) + 1) for 4-7 CPUs).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>

#include "allocators/base_allocator.hpp"
#include "allocators/contract.hpp"
#include "allocators/options.hpp"

namespace alloclab {

namespace slab_detail {

// kmalloc's caches (KMALLOC_MIN_SIZE 8, KMALLOC_SHIFT_HIGH for 4 KiB pages).
inline constexpr std::array<std::uint32_t, 13> kClassSizes{8,   16,  32,   64,   96,   128, 192,
                                                           256, 512, 1024, 2048, 4096, 8192};

constexpr std::array<std::uint8_t, kClassSizes.back() / 8 + 1> make_class_of() {
  std::array<std::uint8_t, kClassSizes.back() / 8 + 1> t{};
  std::size_t c = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    while (kClassSizes[c] < i * 8) ++c;
    t[i] = static_cast<std::uint8_t>(c);
  }
  return t;
}
// (n + 7) / 8 -> class index; entry 0 (size 0) is kmalloc-8.
inline constexpr auto kClassOf = make_class_of();

}  // namespace slab_detail

class alignas(64) SlabBackend {
 public:
  static constexpr Capabilities capabilities{
      .frees_individually = true, .scoped = false, .thread_safe = false};

  static constexpr auto kClassSizes = slab_detail::kClassSizes;
  static constexpr std::size_t kClasses = kClassSizes.size();
  static constexpr std::size_t kMaxSize = kClassSizes.back();
  static constexpr std::size_t kNoClass = kClasses;
  static constexpr std::size_t kPageSize = 4096;
  static constexpr unsigned kMaxOrder = 3;  // slub_max_order default

  // The class serving (size, align), or kNoClass when it goes upstream.
  static std::size_t class_index(std::size_t size, std::size_t align) noexcept {
    std::size_t n = size < align ? align : size;
    if (n > kMaxSize) return kNoClass;
    std::size_t c = slab_detail::kClassOf[(n + 7) >> 3];
    // kmalloc-96 and kmalloc-192 objects are only 32- and 64-aligned.
    if (align > kSmallAlign && (kClassSizes[c] & (0 - kClassSizes[c])) < align) {
      c = slab_detail::kClassOf[(std::bit_ceil(n) + 7) >> 3];
    }
    return c;
  }
  // The object size serving (size, align); 0 when it goes upstream.
  static std::size_t class_size(std::size_t size, std::size_t align) noexcept {
    std::size_t c = class_index(size, align);
    return c == kNoClass ? 0 : kClassSizes[c];
  }

  SlabBackend() : SlabBackend(BackendOptions{}) {}
  explicit SlabBackend(const BackendOptions& opts) {
    std::uint64_t max_empty = opts.count("max_empty", kDefaultEmpty);
    std::uint64_t min_objects = opts.count("min_objects", 16);
    if (min_objects == 0) min_objects = 1;
    for (std::size_t i = 0; i < kClasses; ++i) {
      Cache& c = caches_[i];
      c.size = kClassSizes[i];
      std::size_t obj_align = c.size & (0 - c.size);
      c.offset = static_cast<std::uint32_t>(align_up(sizeof(Slab), obj_align));
      c.slab_bytes = slab_bytes_for(c.size, c.offset, min_objects);
      c.objects = static_cast<std::uint32_t>((c.slab_bytes - c.offset) / c.size);
      c.max_empty = max_empty == kDefaultEmpty ? min_partial(c.size) : max_empty;
    }
  }
  SlabBackend(const SlabBackend&) = delete;
  SlabBackend& operator=(const SlabBackend&) = delete;
  // Every slab is on a list, active, or full; full slabs are found by no
  // list, so the backend keeps them all on `all_` for destruction.
  ~SlabBackend() {
    while (all_) {
      Slab* next = all_->all_next;
      std::free(all_);
      all_ = next;
    }
  }

  void* allocate(std::size_t size, std::size_t align) noexcept {
    std::size_t n = size < align ? align : size;
    if (n <= kMaxSize && align <= kSmallAlign) [[likely]] {
      Cache& c = caches_[slab_detail::kClassOf[(n + 7) >> 3]];
      if (void* p = c.freelist) [[likely]] {
        c.freelist = *static_cast<void**>(p);
        stats_.in_use_bytes += size;
        return p;
      }
      return allocate_slow(c, size);
    }
    std::size_t ci = class_index(size, align);
    if (ci != kNoClass) {
      Cache& c = caches_[ci];
      if (void* p = c.freelist) {
        c.freelist = *static_cast<void**>(p);
        stats_.in_use_bytes += size;
        return p;
      }
      return allocate_slow(c, size);
    }
    return allocate_upstream(size, align);
  }

  void deallocate(void* p, std::size_t size, std::size_t align) noexcept {
    if (p == nullptr) return;
    std::size_t n = size < align ? align : size;
    std::size_t ci = n <= kMaxSize && align <= kSmallAlign ? slab_detail::kClassOf[(n + 7) >> 3] : class_index(size, align);
    if (ci == kNoClass) {
      fallthrough_deallocate(stats_, p, size);
      return;
    }
    Cache& c = caches_[ci];
    stats_.in_use_bytes -= size;
    Slab* s = slab_of(p, c);
    if (s == c.active) [[likely]] {
      *static_cast<void**>(p) = c.freelist;
      c.freelist = p;
      return;
    }
    free_to_slab(c, s, p);
  }

  BackendStats stats() const { return stats_; }

  // Deactivates every active slab (its free objects go back to it; it lands
  // on the partial or empty list) and gives back every empty slab.
  void release_to_os() {
    for (Cache& c : caches_) {
      if (c.active) deactivate(c);
      while (Slab* s = c.empty.head) {
        c.empty.remove(s);
        discard(c, s);
      }
    }
  }

  // --- inspection (tests, reports) -------------------------------------------
  struct SlabInfo {
    const void* base;         // the slab, found by masking the pointer
    std::size_t bytes;        // slab size; base is aligned to it
    std::uint32_t object_size;
    std::uint32_t objects;    // objects the slab holds
    std::uint32_t in_use;     // objects handed out now
  };
  // The slab holding p, an object allocated with (size, align) that is
  // served by a class.
  SlabInfo slab_info(const void* p, std::size_t size, std::size_t align) const noexcept {
    const Cache& c = caches_[class_index(size, align)];
    const Slab* s = slab_of(p, c);
    std::uint32_t in_use = s->inuse;
    if (s == c.active) {
      for (void* f = c.freelist; f; f = *static_cast<void**>(f)) --in_use;
    }
    return {s, c.slab_bytes, c.size, c.objects, in_use};
  }
  std::size_t slab_bytes(std::size_t size, std::size_t align) const noexcept {
    return caches_[class_index(size, align)].slab_bytes;
  }
  std::uint32_t objects_per_slab(std::size_t size, std::size_t align) const noexcept {
    return caches_[class_index(size, align)].objects;
  }
  std::uint64_t partial_slabs(std::size_t size, std::size_t align) const noexcept {
    return caches_[class_index(size, align)].partial.count;
  }
  std::uint64_t empty_slabs(std::size_t size, std::size_t align) const noexcept {
    return caches_[class_index(size, align)].empty.count;
  }

 private:
  // The descriptor at the start of every slab. The object area begins at
  // Cache::offset.
  struct Slab {
    // Free objects of this slab not owned by the cache; LIFO. Empty while
    // the slab is active (the cache's freelist holds them then).
    void* free;
    Slab* prev;  // partial or empty list of the cache; null on neither
    Slab* next;
    Slab* all_next;  // every slab of the backend, for destruction
    Slab* all_prev;
    // Objects not on `free`. For the active slab: all of them (those free
    // are on the cache's freelist).
    std::uint32_t inuse;
    // Which list holds the slab. Full slabs are on no list.
    enum class List : std::uint8_t { none, partial, empty } list;
  };

  // A doubly linked list of slabs through Slab::prev/next.
  struct SlabList {
    Slab* head = nullptr;
    Slab* tail = nullptr;
    std::uint64_t count = 0;

    void push_front(Slab* s) noexcept {
      s->prev = nullptr;
      s->next = head;
      (head ? head->prev : tail) = s;
      head = s;
      ++count;
    }
    void push_back(Slab* s) noexcept {
      s->next = nullptr;
      s->prev = tail;
      (tail ? tail->next : head) = s;
      tail = s;
      ++count;
    }
    void remove(Slab* s) noexcept {
      (s->prev ? s->prev->next : head) = s->next;
      (s->next ? s->next->prev : tail) = s->prev;
      s->prev = s->next = nullptr;
      --count;
    }
  };

  struct alignas(64) Cache {
    // Free objects of `active`, handed out before anything else; LIFO.
    void* freelist = nullptr;
    Slab* active = nullptr;
    // 0 < inuse < objects. A full slab that gets a free joins at the tail
    // (SLUB's add_partial(..., DEACTIVATE_TO_TAIL)), so the head is the slab
    // that has collected frees longest: the next active slab serves the
    // most allocations before the slow path runs again.
    SlabList partial;
    SlabList empty;  // inuse == 0; at most max_empty
    std::uint64_t max_empty = 0;
    std::size_t slab_bytes = 0;  // a power of two, >= object alignment
    std::uint32_t size = 0;
    std::uint32_t offset = 0;   // first object; a multiple of the object alignment
    std::uint32_t objects = 0;  // per slab, >= 1
  };

  // Alignments every class honours for the sizes it serves: required
  // alignment is at most 16 and every class from 16 B up is 16-aligned (the
  // 8-byte class only serves requests of <= 8 bytes, which need 8).
  static constexpr std::size_t kSmallAlign = 16;
  static constexpr std::uint64_t kDefaultEmpty = ~std::uint64_t{0};


  static std::uint64_t min_partial(std::uint32_t size) noexcept {
    std::uint64_t m = static_cast<std::uint64_t>(std::bit_width(size) - 1) / 2;
    return m < 5 ? 5 : (m > 10 ? 10 : m);
  }

  static std::size_t slab_bytes_for(std::size_t size, std::size_t offset, std::uint64_t min_objects) noexcept {
    auto objects_at = [&](unsigned order) { return ((kPageSize << order) - offset) / size; };
    std::uint64_t want = min_objects;
    if (want > objects_at(kMaxOrder)) want = objects_at(kMaxOrder);
    if (want == 0) want = 1;
    for (std::size_t fract : {16, 8, 4}) {
      for (unsigned order = 0; order <= kMaxOrder; ++order) {
        std::size_t bytes = kPageSize << order;
        std::size_t objects = objects_at(order);
        if (objects < want) continue;
        if (bytes - objects * size <= bytes / fract) return bytes;
      }
    }
    return kPageSize << kMaxOrder;
  }

  static Slab* slab_of(const void* p, const Cache& c) noexcept {
    return reinterpret_cast<Slab*>(reinterpret_cast<std::uintptr_t>(p) & ~(std::uintptr_t{c.slab_bytes} - 1));
  }

  // The active slab is used up (or there is none): take the next slab,
  // partial before empty before new, and hand out its first free object.
  void* allocate_slow(Cache& c, std::size_t size) noexcept {
    Slab* s = nullptr;
    if (c.partial.head) {
      s = c.partial.head;
      c.partial.remove(s);
    } else if (c.empty.head) {
      s = c.empty.head;
      c.empty.remove(s);
    } else {
      s = new_slab(c);
      if (s == nullptr) {
        ++stats_.failed_allocations;
        return nullptr;
      }
    }
    // The old active slab, if any, is full: it stays on no list.
    s->list = Slab::List::none;
    c.active = s;
    void* p = s->free;
    c.freelist = *static_cast<void**>(p);
    s->free = nullptr;
    s->inuse = c.objects;
    stats_.in_use_bytes += size;
    return p;
  }

  // A free into a slab other than the active one.
  void free_to_slab(Cache& c, Slab* s, void* p) noexcept {
    *static_cast<void**>(p) = s->free;
    s->free = p;
    --s->inuse;
    if (s->list == Slab::List::partial) {
      if (s->inuse != 0) return;
      c.partial.remove(s);
    } else if (s->inuse != 0) {  // was full
      s->list = Slab::List::partial;
      c.partial.push_back(s);
      return;
    }
    // Now empty.
    if (c.empty.count < c.max_empty) {
      s->list = Slab::List::empty;
      c.empty.push_front(s);
    } else {
      discard(c, s);
    }
  }

  // Gives the cache's free objects back to the active slab and files it as
  // partial, empty (or full, on no list).
  void deactivate(Cache& c) noexcept {
    Slab* s = c.active;
    c.active = nullptr;
    while (void* p = c.freelist) {
      c.freelist = *static_cast<void**>(p);
      *static_cast<void**>(p) = s->free;
      s->free = p;
      --s->inuse;
    }
    if (s->inuse == 0) {
      s->list = Slab::List::empty;
      c.empty.push_front(s);
    } else if (s->inuse < c.objects) {
      s->list = Slab::List::partial;
      c.partial.push_front(s);
    }
  }

  Slab* new_slab(Cache& c) noexcept {
    void* mem = std::aligned_alloc(c.slab_bytes, c.slab_bytes);
    if (mem == nullptr) return nullptr;
    auto* s = static_cast<Slab*>(mem);
    *s = Slab{nullptr, nullptr, nullptr, all_, nullptr, 0, Slab::List::none};
    if (all_) all_->all_prev = s;
    all_ = s;
    // Thread the free list in address order, so a fresh slab hands out its
    // objects first to last.
    char* first = static_cast<char*>(mem) + c.offset;
    for (std::uint32_t k = c.objects; k-- > 0;) {
      void* obj = first + static_cast<std::size_t>(k) * c.size;
      *static_cast<void**>(obj) = s->free;
      s->free = obj;
    }
    stats_.reserved_bytes += c.slab_bytes;
    return s;
  }

  void discard(Cache& c, Slab* s) noexcept {
    if (s->all_prev) s->all_prev->all_next = s->all_next;
    else all_ = s->all_next;
    if (s->all_next) s->all_next->all_prev = s->all_prev;
    stats_.reserved_bytes -= c.slab_bytes;
    std::free(s);
  }

  // Sizes above 8 KiB and alignments above it: the base allocator
  // (kmalloc_large goes to the page allocator).
  void* allocate_upstream(std::size_t size, std::size_t align) noexcept {
    return fallthrough_allocate(stats_, size, align);
  }

  std::array<Cache, kClasses> caches_{};
  Slab* all_ = nullptr;
  BackendStats stats_;
};

static_assert(Backend<SlabBackend>);
static_assert(HasStats<SlabBackend>);
static_assert(ReleasesToOs<SlabBackend>);

}  // namespace alloclab
