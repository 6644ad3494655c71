// pool: the named semantics (LIFO reuse, capacity bound, preallocation, the
// O(1) intrusive free list, class rounding, fall-through) and the
// conformance suite on several configurations.
#include "allocators/strategies/pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
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

TEST(Pool, ClassesAreMultiplesOf16AndEachSizeGetsTheSmallestThatFits) {
  for (std::size_t i = 0; i < PoolBackend::kClasses; ++i) {
    EXPECT_EQ(PoolBackend::kClassSizes[i] % 16, 0u);
    if (i > 0) {
      EXPECT_LT(PoolBackend::kClassSizes[i - 1], PoolBackend::kClassSizes[i]);
    }
  }
  for (std::size_t size = 0; size <= PoolBackend::kMaxClassSize; ++size) {
    std::size_t c = PoolBackend::class_index(size);
    ASSERT_LT(c, PoolBackend::kClasses);
    ASSERT_GE(PoolBackend::kClassSizes[c], size) << size;
    if (c > 0) {
      ASSERT_LT(PoolBackend::kClassSizes[c - 1], size) << size;
    }
  }
  EXPECT_EQ(PoolBackend::kClassSizes[PoolBackend::class_index(56)], 64u);    // ngx_table_elt_t
  EXPECT_EQ(PoolBackend::kClassSizes[PoolBackend::class_index(1024)], 1024u);
  EXPECT_EQ(PoolBackend::kClassSizes[PoolBackend::class_index(4096)], 4096u);
  EXPECT_EQ(PoolBackend::kClassSizes[PoolBackend::class_index(16384)], 16384u);
}

TEST(Pool, TheBlockJustFreedIsTheNextHandedOutForItsClass) {
  PoolBackend pool;
  void* a = pool.allocate(64, 8);
  void* b = pool.allocate(64, 8);
  void* other = pool.allocate(200, 8);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  pool.deallocate(a, 64, 8);
  pool.deallocate(b, 64, 8);
  pool.deallocate(other, 200, 8);  // another class: does not interfere
  EXPECT_EQ(pool.allocate(50, 8), b) << "50 B shares the 64 B pool; b was freed last";
  EXPECT_EQ(pool.allocate(64, 8), a);
  EXPECT_EQ(pool.allocate(200, 8), other);
}

TEST(Pool, OrderFifoHandsOutTheObjectFreedLongestAgo) {
  PoolBackend pool(opts("order=fifo"));
  void* a = pool.allocate(64, 8);
  void* b = pool.allocate(64, 8);
  void* c = pool.allocate(64, 8);
  pool.deallocate(a, 64, 8);
  pool.deallocate(b, 64, 8);
  EXPECT_EQ(pool.allocate(64, 8), a) << "a was freed first";
  pool.deallocate(c, 64, 8);
  EXPECT_EQ(pool.allocate(64, 8), b);
  EXPECT_EQ(pool.allocate(64, 8), c);
  // The queue emptied and refilled: its tail was reset.
  pool.deallocate(b, 64, 8);
  EXPECT_EQ(pool.allocate(64, 8), b);
}

TEST(Pool, AnOrderOtherThanLifoOrFifoIsRefusedNamingBoth) {
  try {
    PoolBackend pool(opts("order=random"));
    FAIL() << "order=random accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("lifo, fifo"), std::string::npos) << e.what();
  }
}

TEST(Pool, FreeListIsThreadedThroughTheFreeObjects) {
  // A push writes the old head into the freed object and a pop reads it
  // back: O(1) each, no side structure, no search.
  PoolBackend pool;
  void* a = pool.allocate(128, 8);
  void* b = pool.allocate(128, 8);
  void* c = pool.allocate(128, 8);
  pool.deallocate(a, 128, 8);
  pool.deallocate(b, 128, 8);
  pool.deallocate(c, 128, 8);
  void* link_c = nullptr;
  void* link_b = nullptr;
  std::memcpy(&link_c, c, sizeof link_c);
  std::memcpy(&link_b, b, sizeof link_b);
  EXPECT_EQ(link_c, b);
  EXPECT_EQ(link_b, a);
}

TEST(Pool, FreeingAndAllocatingInASteadyStateNeverCallsUpstream) {
  PoolBackend pool;
  const auto chunks = pool.upstream_chunks();
  const auto reserved = pool.stats().reserved_bytes;
  std::vector<void*> live;
  for (int i = 0; i < 32; ++i) live.push_back(pool.allocate(96, 8));
  for (int round = 0; round < 100000; ++round) {
    std::size_t k = static_cast<std::size_t>(round * 7) % live.size();
    pool.deallocate(live[k], 96, 8);
    live[k] = pool.allocate(96, 8);
    ASSERT_NE(live[k], nullptr);
  }
  EXPECT_EQ(pool.upstream_chunks(), chunks);
  EXPECT_EQ(pool.stats().reserved_bytes, reserved);
  EXPECT_EQ(pool.pool_objects(96), 8192u / 96) << "the pool did not grow";
  for (void* p : live) pool.deallocate(p, 96, 8);
}

TEST(Pool, PreallocatedPoolsServeTheFirstAllocationsWithoutUpstreamCalls) {
  PoolBackend pool;  // prealloc=1 chunk of 8 KiB per class
  EXPECT_EQ(pool.upstream_chunks(), PoolBackend::kClasses);
  const auto reserved = pool.stats().reserved_bytes;
  EXPECT_GT(reserved, 0u);
  // Everything a chunk holds, in every class.
  std::vector<std::pair<void*, std::size_t>> live;
  for (std::uint32_t size : PoolBackend::kClassSizes) {
    std::size_t n = size <= 8192 ? 8192 / size : 1;
    EXPECT_EQ(pool.pool_objects(size), n);
    for (std::size_t i = 0; i < n; ++i) {
      void* p = pool.allocate(size, 8);
      ASSERT_NE(p, nullptr);
      std::memset(p, 0x5A, size);
      live.emplace_back(p, size);
    }
  }
  EXPECT_EQ(pool.upstream_chunks(), PoolBackend::kClasses) << "an allocation went upstream";
  EXPECT_EQ(pool.stats().reserved_bytes, reserved);
  EXPECT_EQ(pool.stats().spills, 0u);
  EXPECT_EQ(pool.stats().fallthrough_allocations, 0u);
  // One more in a class takes a chunk: a counted spill.
  live.emplace_back(pool.allocate(16, 8), 16);
  EXPECT_EQ(pool.upstream_chunks(), PoolBackend::kClasses + 1);
  EXPECT_EQ(pool.stats().spills, 1u);
  for (auto [p, n] : live) pool.deallocate(p, n, 8);
  EXPECT_EQ(pool.stats().in_use_bytes, 0u);
}

TEST(Pool, WithoutPreallocationTheFirstAllocationCallsUpstream) {
  PoolBackend pool(opts("prealloc=0"));
  EXPECT_EQ(pool.upstream_chunks(), 0u);
  EXPECT_EQ(pool.stats().reserved_bytes, 0u);
  void* p = pool.allocate(32, 8);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pool.upstream_chunks(), 1u);
  pool.deallocate(p, 32, 8);
}

TEST(Pool, CapacityBoundRefusesWithACountedRejection) {
  PoolBackend pool(opts("capacity=4"));
  std::vector<void*> live;
  for (int i = 0; i < 4; ++i) {
    live.push_back(pool.allocate(100, 8));
    ASSERT_NE(live.back(), nullptr);
  }
  const auto reserved = pool.stats().reserved_bytes;
  EXPECT_EQ(pool.allocate(100, 8), nullptr);
  EXPECT_EQ(pool.allocate(112, 8), nullptr);  // same 112 B class
  auto s = pool.stats();
  EXPECT_EQ(s.rejections, 2u);
  EXPECT_EQ(s.failed_allocations, 2u);
  EXPECT_EQ(s.reserved_bytes, reserved) << "a refused allocation took memory";
  EXPECT_EQ(pool.pool_objects(100), 4u);
  // Other classes are bounded separately.
  void* other = pool.allocate(64, 8);
  EXPECT_NE(other, nullptr);
  // A freed object can be handed out again: the bound is on objects held.
  pool.deallocate(live[1], 100, 8);
  EXPECT_EQ(pool.allocate(100, 8), live[1]);
  EXPECT_EQ(pool.stats().rejections, 2u);
  for (void* p : live) pool.deallocate(p, 100, 8);
  pool.deallocate(other, 64, 8);
}

TEST(Pool, CapacityAlsoBoundsGrowthBeyondPreallocation) {
  PoolBackend pool(opts("capacity=3,chunk=32"));  // 2 objects of 16 per chunk
  void* a = pool.allocate(16, 8);
  void* b = pool.allocate(16, 8);
  void* c = pool.allocate(16, 8);  // a second chunk, clipped to 1 object
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(pool.stats().spills, 1u);
  EXPECT_EQ(pool.pool_objects(16), 3u);
  EXPECT_EQ(pool.allocate(16, 8), nullptr);
  EXPECT_EQ(pool.stats().rejections, 1u);
  for (void* p : {a, b, c}) pool.deallocate(p, 16, 8);
}

TEST(Pool, SizesAboveTheLargestClassAndLargeAlignmentsFallThrough) {
  PoolBackend pool;
  const auto reserved = pool.stats().reserved_bytes;
  void* big = pool.allocate(PoolBackend::kMaxClassSize + 1, 8);
  void* aligned = pool.allocate(64, 64);
  ASSERT_NE(big, nullptr);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 64, 0u);
  auto s = pool.stats();
  EXPECT_EQ(s.fallthrough_allocations, 2u);
  EXPECT_EQ(s.in_use_bytes, PoolBackend::kMaxClassSize + 1 + 64);
  EXPECT_EQ(s.reserved_bytes, reserved + PoolBackend::kMaxClassSize + 1 + 64);
  pool.deallocate(big, PoolBackend::kMaxClassSize + 1, 8);
  pool.deallocate(aligned, 64, 64);
  EXPECT_EQ(pool.stats().in_use_bytes, 0u);
  EXPECT_EQ(pool.stats().reserved_bytes, reserved);
}

TEST(Pool, InUseBytesCountRequestedSizes) {
  PoolBackend pool;
  void* a = pool.allocate(10, 8);
  void* b = pool.allocate(300, 8);
  EXPECT_EQ(pool.stats().in_use_bytes, 310u);
  pool.deallocate(a, 10, 8);
  EXPECT_EQ(pool.stats().in_use_bytes, 300u);
  pool.deallocate(b, 300, 8);
  EXPECT_EQ(pool.stats().in_use_bytes, 0u);
}

TEST(Pool, ReleaseToOsKeepsThePreallocationAndDropsGrowthOfIdleClasses) {
  PoolBackend pool;
  const auto reserved = pool.stats().reserved_bytes;
  std::vector<void*> live;
  for (int i = 0; i < 1000; ++i) live.push_back(pool.allocate(48, 8));  // 170 per chunk
  void* busy = pool.allocate(2048, 8);  // a class with a live object keeps its chunks
  for (int i = 0; i < 10; ++i) live.push_back(pool.allocate(2048, 8));
  ASSERT_GT(pool.stats().reserved_bytes, reserved);
  for (std::size_t i = 0; i < 1000; ++i) pool.deallocate(live[i], 48, 8);
  for (std::size_t i = 1000; i < live.size(); ++i) pool.deallocate(live[i], 2048, 8);
  const auto before = pool.stats().reserved_bytes;
  pool.release_to_os();
  const auto after = pool.stats().reserved_bytes;
  EXPECT_LT(after, before);
  EXPECT_GT(after, reserved) << "the busy 2 KiB class must keep its chunks";
  EXPECT_EQ(pool.pool_objects(48), 8192u / 48);
  // The kept preallocation still serves without upstream calls.
  const auto chunks = pool.upstream_chunks();
  std::vector<void*> again;
  for (std::size_t i = 0; i < 8192 / 48; ++i) {
    again.push_back(pool.allocate(48, 8));
    ASSERT_NE(again.back(), nullptr);
    std::memset(again.back(), 1, 48);
  }
  EXPECT_EQ(pool.upstream_chunks(), chunks);
  for (void* p : again) pool.deallocate(p, 48, 8);
  pool.deallocate(busy, 2048, 8);
  pool.release_to_os();
  EXPECT_EQ(pool.stats().reserved_bytes, reserved);
}

TEST(Pool, StackedPreallocationLosesNoObject) {
  PoolBackend pool(opts("prealloc=3,chunk=64"));  // 3 chunks of 4 x 16 B
  EXPECT_EQ(pool.pool_objects(16), 12u);
  std::vector<void*> live;
  for (int i = 0; i < 12; ++i) {
    live.push_back(pool.allocate(16, 8));
    ASSERT_NE(live.back(), nullptr);
  }
  std::sort(live.begin(), live.end());
  EXPECT_EQ(std::adjacent_find(live.begin(), live.end()), live.end()) << "an object handed out twice";
  EXPECT_EQ(pool.upstream_chunks(), 3 * PoolBackend::kClasses);
  for (void* p : live) pool.deallocate(p, 16, 8);
}

TEST(Pool, Conformance) {
  conformance::run_conformance([] { return std::make_unique<PoolBackend>(); });
}

TEST(Pool, ConformanceWithoutPreallocationAndWithSmallChunks) {
  conformance::run_conformance([] { return std::make_unique<PoolBackend>(opts("prealloc=0,chunk=256")); });
}

TEST(Pool, ConformanceInFifoOrder) {
  conformance::run_conformance([] { return std::make_unique<PoolBackend>(opts("order=fifo,prealloc=2,chunk=1k")); });
}

TEST(Pool, ConformanceWithACapacity) {
  conformance::run_conformance([] { return std::make_unique<PoolBackend>(opts("capacity=64")); });
}

}  // namespace
}  // namespace alloclab
