// The HAProxy pools model's named semantics: sizes rounded to 16, LIFO
// per-thread caches, the 512 KiB budget evicting clusters to the shared
// list, the global memory limit, cross-thread frees, plus conformance.
#include "allocators/strategies/haproxy.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "allocators/tests/conformance.hpp"

namespace alloclab {
namespace {

using H = HaproxyBackend;

TEST(Haproxy, PoolSizesAreRoundedTo16) {
  EXPECT_EQ(H::pool_size(0), 32u);  // at least a pool_cache_item
  EXPECT_EQ(H::pool_size(1), 32u);
  EXPECT_EQ(H::pool_size(32), 32u);
  EXPECT_EQ(H::pool_size(33), 48u);
  EXPECT_EQ(H::pool_size(48), 48u);
  EXPECT_EQ(H::pool_size(49), 64u);
  EXPECT_EQ(H::pool_size(1000), 1008u);
  EXPECT_EQ(H::pool_size(16384), 16384u);
}

TEST(Haproxy, SizesInOneGranuleShareAPool) {
  H b;
  b.deallocate(b.allocate(8, 8), 8, 8);  // creates this thread's cache
  auto reserved = b.stats().reserved_bytes;
  void* a = b.allocate(33, 8);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(b.stats().reserved_bytes - reserved, 48u) << "a 33-byte request holds a 48-byte object";
  b.deallocate(a, 33, 8);
  void* same = b.allocate(48, 8);
  EXPECT_EQ(same, a) << "33 and 48 bytes are served by the same pool";
  b.deallocate(same, 48, 8);
  void* other = b.allocate(49, 8);
  EXPECT_NE(other, a) << "49 bytes is the 64-byte pool";
  EXPECT_EQ(b.cached_objects(40), 1u);
  b.deallocate(other, 49, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(Haproxy, PerThreadCacheIsLifo) {
  H b;
  void* p[3];
  for (auto& x : p) x = b.allocate(64, 8);
  auto from_os = b.os_allocations();
  for (auto* x : p) b.deallocate(x, 64, 8);
  EXPECT_EQ(b.cached_objects(64), 3u);
  EXPECT_EQ(b.allocate(64, 8), p[2]);
  EXPECT_EQ(b.allocate(64, 8), p[1]);
  EXPECT_EQ(b.allocate(64, 8), p[0]);
  EXPECT_EQ(b.os_allocations(), from_os) << "reuse comes from the cache, not the OS";
  for (auto* x : p) b.deallocate(x, 64, 8);
}

// 7000 objects of 64 bytes (437.5 KiB) freed into one thread's cache: past
// 3/4 of the 512 KiB budget the pool's oldest objects leave in clusters of 8
// for the shared list, which later refills a drained cache a cluster at a time.
TEST(Haproxy, BudgetEvictsClustersToTheSharedList) {
  H b;
  ASSERT_EQ(b.hot_size(), 512u * 1024);
  constexpr std::size_t kObjects = 7000;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < kObjects; ++i) blocks.push_back(b.allocate(64, 8));
  EXPECT_EQ(b.os_allocations(), kObjects);
  for (void* p : blocks) b.deallocate(p, 64, 8);

  const std::size_t threshold = b.hot_size() * 3 / 4;
  EXPECT_LE(b.cached_bytes(), threshold);
  EXPECT_GT(b.cached_bytes(), threshold - H::kClusterSize * 64);
  std::uint64_t shared = b.shared_objects(64);
  EXPECT_EQ(shared + b.cached_objects(64), kObjects);
  EXPECT_GT(shared, 0u);
  EXPECT_EQ(shared % H::kClusterSize, 0u);
  EXPECT_EQ(b.clusters_to_shared(), shared / H::kClusterSize);
  EXPECT_EQ(b.evicted_to_os(), 0u) << "the pool is within its average need: nothing goes back";
  EXPECT_EQ(b.allocated_objects(64), kObjects);

  // The oldest objects were evicted: the most recently freed are still hot.
  EXPECT_EQ(b.allocate(64, 8), blocks.back());
  b.deallocate(blocks.back(), 64, 8);

  // Drain the cache, then one more allocation takes a whole cluster.
  std::size_t cached = b.cached_objects(64);
  blocks.clear();
  for (std::size_t i = 0; i < cached; ++i) blocks.push_back(b.allocate(64, 8));
  EXPECT_EQ(b.cached_objects(64), 0u);
  blocks.push_back(b.allocate(64, 8));
  EXPECT_EQ(b.cached_objects(64), H::kClusterSize - 1);
  EXPECT_EQ(b.shared_objects(64), shared - H::kClusterSize);
  EXPECT_EQ(b.os_allocations(), kObjects) << "a refill from the shared list calls no OS";
  for (void* p : blocks) b.deallocate(p, 64, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

// Beyond 5/4 of the pool's sliding average need, evicted objects go back to
// the OS instead (pool_releasable).
TEST(Haproxy, EvictionBeyondAverageNeedGoesToTheOs) {
  H b;
  constexpr std::size_t kObjects = 12000;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < kObjects; ++i) blocks.push_back(b.allocate(64, 8));
  for (void* p : blocks) b.deallocate(p, 64, 8);
  EXPECT_GT(b.shared_objects(64), 0u);
  EXPECT_GT(b.evicted_to_os(), 0u);
  EXPECT_EQ(b.allocated_objects(64), kObjects - b.evicted_to_os());
  EXPECT_EQ(b.shared_objects(64) + b.cached_objects(64) + b.evicted_to_os(), kObjects);
}

TEST(Haproxy, WithoutGlobalPoolsEvictionFreesToTheOs) {
  H b(BackendOptions::parse("global=off"));
  std::vector<void*> blocks;
  for (int i = 0; i < 7000; ++i) blocks.push_back(b.allocate(64, 8));
  auto reserved = b.stats().reserved_bytes;
  for (void* p : blocks) b.deallocate(p, 64, 8);
  EXPECT_EQ(b.shared_objects(64), 0u);
  EXPECT_EQ(b.evicted_to_os() + b.cached_objects(64), 7000u);
  EXPECT_EQ(b.stats().reserved_bytes, reserved - b.evicted_to_os() * 64);
}

// One object in each of 250 pools (2-6 KiB): no pool holds more than its
// share, so the whole-budget rule evicts the thread's least recently used
// objects, from whichever pool, down to 7/8 of the budget.
TEST(Haproxy, OverBudgetEvictsLeastRecentlyUsedAcrossPools) {
  H b;
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t k = 0; k < 250; ++k) {
    std::size_t size = 2048 + 16 * k;
    blocks.emplace_back(b.allocate(size, 8), size);
  }
  std::size_t peak = 0;
  for (auto [p, n] : blocks) {
    b.deallocate(p, n, 8);
    peak = std::max(peak, b.cached_bytes());
  }
  EXPECT_LE(peak, b.hot_size());
  EXPECT_GT(b.cached_bytes(), b.hot_size() * 7 / 8 - 8192);
  EXPECT_EQ(b.cached_objects(blocks.front().second), 0u) << "the oldest object was evicted";
  EXPECT_EQ(b.cached_objects(blocks[10].second), 0u);
  EXPECT_EQ(b.cached_objects(blocks.back().second), 1u) << "the newest is still cached";
  EXPECT_EQ(b.cached_objects(blocks[240].second), 1u);
}

TEST(Haproxy, GlobalLimitFailsAllocationsCounted) {
  H b(BackendOptions::parse("limit=64k"));
  std::vector<void*> blocks;
  void* p = nullptr;
  for (int i = 0; i < 100; ++i) {
    p = b.allocate(1024, 8);
    if (p == nullptr) break;
    blocks.push_back(p);
  }
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(blocks.size(), 64u) << "64 objects of 1 KiB fit in 64 KiB";
  EXPECT_EQ(b.stats().rejections, 1u);
  EXPECT_EQ(b.stats().failed_allocations, 1u);
  // Above the largest pool (fall-through) the limit applies too.
  EXPECT_EQ(b.allocate(100000, 8), nullptr);
  EXPECT_EQ(b.stats().rejections, 2u);
  EXPECT_EQ(b.stats().failed_allocations, 2u);
  // A freed object is cached, so the next allocation succeeds under the limit.
  b.deallocate(blocks.back(), 1024, 8);
  blocks.back() = b.allocate(1024, 8);
  EXPECT_NE(blocks.back(), nullptr);
  EXPECT_EQ(b.stats().rejections, 2u);
  for (void* q : blocks) b.deallocate(q, 1024, 8);
}

TEST(Haproxy, CrossThreadFreeGoesToTheFreeingThreadsCache) {
  H b;
  constexpr int kObjects = 100;
  std::vector<void*> blocks;
  for (int i = 0; i < kObjects; ++i) {
    void* p = b.allocate(128, 8);
    ASSERT_NE(p, nullptr);
    std::memset(p, i, 128);
    blocks.push_back(p);
  }
  auto from_os = b.os_allocations();
  std::thread other([&] {
    for (int i = 0; i < kObjects; ++i) {
      auto* c = static_cast<unsigned char*>(blocks[i]);
      if (c[0] != static_cast<unsigned char>(i) || c[127] != static_cast<unsigned char>(i))
        ADD_FAILURE() << "contents lost";
      b.deallocate(blocks[i], 128, 8);
    }
    EXPECT_EQ(b.cached_objects(128), static_cast<std::size_t>(kObjects));
    // This thread reuses them, hottest first, without calling the OS.
    for (int i = kObjects - 1; i >= 0; --i) EXPECT_EQ(b.allocate(128, 8), blocks[i]);
    EXPECT_EQ(b.os_allocations(), from_os);
    for (void* p : blocks) b.deallocate(p, 128, 8);
  });
  other.join();
  // The allocating thread's cache never saw them: it must ask the OS.
  EXPECT_EQ(b.cached_objects(128), 0u);
  void* fresh = b.allocate(128, 8);
  EXPECT_EQ(b.os_allocations(), from_os + 1);
  b.deallocate(fresh, 128, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(Haproxy, ObjectsLargerThanTheBudgetAreNotCached) {
  H b(BackendOptions::parse("hot_size=1k"));
  void* p = b.allocate(2048, 8);
  auto reserved = b.stats().reserved_bytes;
  b.deallocate(p, 2048, 8);
  EXPECT_EQ(b.cached_objects(2048), 0u);
  EXPECT_EQ(b.stats().reserved_bytes, reserved - 2048);
}

TEST(Haproxy, LargeOrOveralignedFallsThrough) {
  H b;
  void* big = b.allocate(16385, 8);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(b.stats().fallthrough_allocations, 1u);
  void* aligned = b.allocate(64, 64);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 64, 0u);
  EXPECT_EQ(b.stats().fallthrough_allocations, 2u);
  void* pooled = b.allocate(16384, 8);
  EXPECT_EQ(b.stats().fallthrough_allocations, 2u) << "16 KiB is the largest pool";
  b.deallocate(big, 16385, 8);
  b.deallocate(aligned, 64, 64);
  b.deallocate(pooled, 16384, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(Haproxy, ReleaseToOsFreesCachedAndShared) {
  H b;
  std::vector<void*> blocks;
  for (int i = 0; i < 7000; ++i) blocks.push_back(b.allocate(64, 8));
  for (void* p : blocks) b.deallocate(p, 64, 8);
  ASSERT_GT(b.shared_objects(64), 0u);
  auto meta = b.stats().reserved_bytes - 7000 * 64;
  b.release_to_os();
  EXPECT_EQ(b.cached_bytes(), 0u);
  EXPECT_EQ(b.shared_objects(64), 0u);
  EXPECT_EQ(b.allocated_objects(64), 0u);
  EXPECT_EQ(b.stats().reserved_bytes, meta);
}

TEST(Haproxy, Conformance) {
  conformance::run_conformance([] { return std::make_unique<H>(); });
}

TEST(Haproxy, ConformanceTightBudgetAndLimit) {
  conformance::run_conformance(
      [] { return std::make_unique<H>(BackendOptions::parse("hot_size=4k,limit=1m")); });
}

TEST(Haproxy, ConformanceWithoutGlobalPools) {
  conformance::run_conformance(
      [] { return std::make_unique<H>(BackendOptions::parse("global=off,hot_size=8k")); });
}

}  // namespace
}  // namespace alloclab
