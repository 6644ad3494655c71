// slab: the named semantics (kmalloc class selection at each boundary, slabs
// found by masking, partial slabs preferred over empty ones, the empty-slab
// cap giving memory back, LIFO reuse, slab sizing) and the conformance suite.
#include "allocators/strategies/slab.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "allocators/tests/conformance.hpp"

#ifdef ALLOCLAB_SANITIZED
// conformance.hpp asks the base allocator for 64 TiB and expects nullptr;
// ASan aborts on that unless told to return null as malloc does.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace alloclab {
namespace {

BackendOptions opts(const char* text) { return BackendOptions::parse(text); }

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Allocates `slabs` slabs' worth of objects of `size`: every slab full, the
// last one active.
std::vector<void*> fill_slabs(SlabBackend& b, std::size_t size, std::size_t slabs) {
  std::vector<void*> out;
  std::size_t n = b.objects_per_slab(size, 8) * slabs;
  for (std::size_t i = 0; i < n; ++i) {
    void* p = b.allocate(size, 8);
    EXPECT_NE(p, nullptr);
    out.push_back(p);
  }
  return out;
}

TEST(Slab, ClassSelectionAtEachBoundary) {
  const std::pair<std::size_t, std::size_t> cases[] = {
      {0, 8},       {1, 8},       {8, 8},       {9, 16},      {16, 16},     {17, 32},
      {32, 32},     {33, 64},     {64, 64},     {65, 96},     {96, 96},     {97, 128},
      {128, 128},   {129, 192},   {192, 192},   {193, 256},   {256, 256},   {257, 512},
      {512, 512},   {513, 1024},  {1024, 1024}, {1025, 2048}, {2048, 2048}, {2049, 4096},
      {4096, 4096}, {4097, 8192}, {8192, 8192}, {8193, 0},    {100000, 0}};
  SlabBackend b;
  for (auto [size, want] : cases) {
    EXPECT_EQ(SlabBackend::class_size(size, 8), want) << "size " << size;
    if (want == 0) continue;
    void* p = b.allocate(size, 8);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(b.slab_info(p, size, 8).object_size, want) << "size " << size;
    b.deallocate(p, size, 8);
  }
  EXPECT_EQ(b.stats().fallthrough_allocations, 0u);
  void* big = b.allocate(8193, 8);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(b.stats().fallthrough_allocations, 1u);
  b.deallocate(big, 8193, 8);
}

TEST(Slab, AlignmentMovesUpToAClassThatHasIt) {
  EXPECT_EQ(SlabBackend::class_size(8, 16), 16u);     // kmalloc-8 is only 8-aligned
  EXPECT_EQ(SlabBackend::class_size(80, 32), 96u);    // kmalloc-96 is 32-aligned
  EXPECT_EQ(SlabBackend::class_size(80, 64), 128u);   // ... but not 64-aligned
  EXPECT_EQ(SlabBackend::class_size(150, 64), 192u);  // kmalloc-192 is 64-aligned
  EXPECT_EQ(SlabBackend::class_size(150, 128), 256u);
  EXPECT_EQ(SlabBackend::class_size(1, 4096), 4096u);
  EXPECT_EQ(SlabBackend::class_size(1, 16384), 0u);
  SlabBackend b;
  for (std::size_t size : {8, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192}) {
    std::size_t natural = size & (0 - size);
    for (int i = 0; i < 40; ++i) {
      void* p = b.allocate(size, 8);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(addr(p) % natural, 0u) << "size " << size;
      // Leaked into the backend on purpose: it frees its slabs when destroyed.
    }
  }
}

TEST(Slab, SlabsAreSizedLikeSlub) {
  SlabBackend b;
  // Smallest order with >= 16 objects and little left over; at most 32 KiB.
  EXPECT_EQ(b.slab_bytes(8, 8), 4096u);
  EXPECT_EQ(b.slab_bytes(192, 8), 4096u);
  EXPECT_EQ(b.slab_bytes(256, 8), 8192u);    // 4 KiB holds 15 after the descriptor
  EXPECT_EQ(b.slab_bytes(512, 8), 16384u);
  EXPECT_EQ(b.slab_bytes(2048, 8), 32768u);
  EXPECT_EQ(b.slab_bytes(8192, 8), 32768u);  // capped at order 3
  EXPECT_EQ(b.objects_per_slab(8192, 8), 3u);
  for (std::size_t size : SlabBackend::kClassSizes) {
    EXPECT_TRUE(is_power_of_two(b.slab_bytes(size, 8)));
    EXPECT_GE(b.objects_per_slab(size, 8), 1u);
  }
}

TEST(Slab, MaskingThePointerFindsItsSlab) {
  SlabBackend b;
  constexpr std::size_t kSize = 64;
  auto live = fill_slabs(b, kSize, 3);
  const std::size_t bytes = b.slab_bytes(kSize, 8);
  std::map<const void*, std::size_t> per_slab;
  for (void* p : live) {
    auto info = b.slab_info(p, kSize, 8);
    EXPECT_EQ(info.bytes, bytes);
    EXPECT_EQ(addr(info.base) % bytes, 0u) << "slab not aligned to its size";
    EXPECT_EQ(addr(p) & ~(bytes - 1), addr(info.base));
    EXPECT_GT(addr(p), addr(info.base)) << "an object on the descriptor";
    EXPECT_LE(addr(p) + kSize, addr(info.base) + bytes);
    ++per_slab[info.base];
  }
  ASSERT_EQ(per_slab.size(), 3u);
  for (auto [base, n] : per_slab) EXPECT_EQ(n, b.objects_per_slab(kSize, 8));
  // A free reaches the slab the mask names, and only that one.
  void* victim = live[5];
  auto before = b.slab_info(victim, kSize, 8);
  auto other = b.slab_info(live.back(), kSize, 8);
  ASSERT_NE(before.base, other.base);
  EXPECT_EQ(before.in_use, before.objects);
  b.deallocate(victim, kSize, 8);
  EXPECT_EQ(b.slab_info(live[6], kSize, 8).in_use, before.objects - 1);
  EXPECT_EQ(b.slab_info(live.back(), kSize, 8).in_use, other.objects);
  EXPECT_EQ(b.partial_slabs(kSize, 8), 1u);
  for (void* p : live) {
    if (p != victim) b.deallocate(p, kSize, 8);
  }
}

TEST(Slab, PartialSlabsArePreferredOverEmptyOnes) {
  SlabBackend b;
  constexpr std::size_t kSize = 256;
  const std::size_t per = b.objects_per_slab(kSize, 8);
  auto live = fill_slabs(b, kSize, 3);  // slabs A, B full; C active and full
  const void* slab_a = b.slab_info(live[0], kSize, 8).base;
  // Empty B entirely, then free one object of A.
  for (std::size_t i = per; i < 2 * per; ++i) b.deallocate(live[i], kSize, 8);
  EXPECT_EQ(b.empty_slabs(kSize, 8), 1u);
  void* hole = live[3];
  b.deallocate(hole, kSize, 8);
  EXPECT_EQ(b.partial_slabs(kSize, 8), 1u);
  // C is used up: the next object must come from partial A, not empty B.
  void* p = b.allocate(kSize, 8);
  EXPECT_EQ(p, hole);
  EXPECT_EQ(b.slab_info(p, kSize, 8).base, slab_a);
  EXPECT_EQ(b.empty_slabs(kSize, 8), 1u) << "the empty slab was taken";
  EXPECT_EQ(b.partial_slabs(kSize, 8), 0u);
  // A is full again; only now is the empty slab used.
  void* q = b.allocate(kSize, 8);
  EXPECT_EQ(b.empty_slabs(kSize, 8), 0u);
  EXPECT_NE(b.slab_info(q, kSize, 8).base, slab_a);
  b.deallocate(p, kSize, 8);
  b.deallocate(q, kSize, 8);
  for (std::size_t i = 0; i < live.size(); ++i) {
    if ((i < per && i != 3) || i >= 2 * per) b.deallocate(live[i], kSize, 8);
  }
}

TEST(Slab, EmptySlabsBeyondTheCapGoBackUpstream) {
  SlabBackend b(opts("max_empty=1"));
  constexpr std::size_t kSize = 512;
  const std::size_t per = b.objects_per_slab(kSize, 8);
  const std::size_t bytes = b.slab_bytes(kSize, 8);
  auto live = fill_slabs(b, kSize, 4);  // A, B, C full, D active
  const auto full = b.stats().reserved_bytes;
  EXPECT_EQ(full, 4 * bytes);
  for (std::size_t i = 0; i < per; ++i) b.deallocate(live[i], kSize, 8);  // A empties: kept
  EXPECT_EQ(b.empty_slabs(kSize, 8), 1u);
  EXPECT_EQ(b.stats().reserved_bytes, full);
  for (std::size_t i = per; i < 2 * per; ++i) b.deallocate(live[i], kSize, 8);  // B: over the cap
  EXPECT_EQ(b.empty_slabs(kSize, 8), 1u);
  EXPECT_EQ(b.stats().reserved_bytes, full - bytes);
  // release_to_os gives back the retained empty slab too.
  b.release_to_os();
  EXPECT_EQ(b.empty_slabs(kSize, 8), 0u);
  EXPECT_EQ(b.stats().reserved_bytes, full - 2 * bytes);
  for (std::size_t i = 2 * per; i < live.size(); ++i) b.deallocate(live[i], kSize, 8);
  b.release_to_os();  // D was deactivated above; C and D are empty now
  EXPECT_EQ(b.stats().reserved_bytes, 0u);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(Slab, DefaultCapIsSlubMinPartial) {
  SlabBackend b;
  constexpr std::size_t kSize = 32;  // clamp(ilog2(32) / 2, 5, 10) = 5
  const std::size_t per = b.objects_per_slab(kSize, 8);
  auto live = fill_slabs(b, kSize, 9);  // 8 full, the 9th active
  for (std::size_t i = 0; i < 8 * per; ++i) b.deallocate(live[i], kSize, 8);
  EXPECT_EQ(b.empty_slabs(kSize, 8), 5u);
  EXPECT_EQ(b.stats().reserved_bytes, 6 * b.slab_bytes(kSize, 8));
  for (std::size_t i = 8 * per; i < live.size(); ++i) b.deallocate(live[i], kSize, 8);
}

TEST(Slab, FreedObjectsAreReusedLastInFirstOut) {
  SlabBackend b;
  constexpr std::size_t kSize = 128;
  // In the active slab.
  void* a = b.allocate(kSize, 8);
  void* c = b.allocate(kSize, 8);
  b.deallocate(a, kSize, 8);
  b.deallocate(c, kSize, 8);
  EXPECT_EQ(b.allocate(kSize, 8), c);
  EXPECT_EQ(b.allocate(100, 8), a);  // 100 B is served by kmalloc-128 too
  // In a slab that is not active: its own list is LIFO as well. Fill the
  // first slab (a and c are its first two objects) and a second one.
  const std::size_t per = b.objects_per_slab(kSize, 8);
  std::vector<void*> live;
  for (std::size_t i = 0; i < 2 * per - 2; ++i) live.push_back(b.allocate(kSize, 8));
  void* x = live[1];
  void* y = live[2];
  const void* first = b.slab_info(a, kSize, 8).base;
  ASSERT_EQ(b.slab_info(x, kSize, 8).base, first);
  ASSERT_NE(b.slab_info(live.back(), kSize, 8).base, first);
  ASSERT_EQ(b.slab_info(live.back(), kSize, 8).in_use, per) << "the second slab is used up";
  b.deallocate(x, kSize, 8);
  b.deallocate(y, kSize, 8);
  EXPECT_EQ(b.allocate(kSize, 8), y);
  EXPECT_EQ(b.allocate(kSize, 8), x);
}

TEST(Slab, StatsCountSlabsAndRequestedBytes) {
  SlabBackend b;
  EXPECT_EQ(b.stats().reserved_bytes, 0u) << "slabs are made on demand";
  void* p = b.allocate(10, 8);
  EXPECT_EQ(b.stats().reserved_bytes, b.slab_bytes(10, 8));
  EXPECT_EQ(b.stats().in_use_bytes, 10u);
  void* big = b.allocate(20000, 8);
  EXPECT_EQ(b.stats().reserved_bytes, b.slab_bytes(10, 8) + 20000);
  EXPECT_EQ(b.stats().in_use_bytes, 20010u);
  b.deallocate(big, 20000, 8);
  b.deallocate(p, 10, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
  EXPECT_EQ(b.stats().reserved_bytes, b.slab_bytes(10, 8)) << "the active slab stays";
  b.release_to_os();
  EXPECT_EQ(b.stats().reserved_bytes, 0u);
}

TEST(Slab, Conformance) {
  conformance::run_conformance([] { return std::make_unique<SlabBackend>(); });
}

TEST(Slab, ConformanceWithoutRetainedEmptiesAndTinySlabs) {
  conformance::run_conformance([] { return std::make_unique<SlabBackend>(opts("max_empty=0,min_objects=1")); });
}

}  // namespace
}  // namespace alloclab
