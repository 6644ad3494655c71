// bounded (BoundedBackend, seeds/004): at most `capacity` entries; the least
// recently used idle entry is evicted to make room; with every entry live an
// allocation is refused and counted.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "allocators/strategies/bounded.hpp"
#include "allocators/tests/conformance.hpp"

#ifdef ALLOCLAB_SANITIZED
// conformance.hpp asks the base allocator for 64 TiB and expects nullptr;
// ASan aborts on that unless told to return null as malloc does.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace alloclab {
namespace {

std::unique_ptr<BoundedBackend> make(const char* options) {
  return std::make_unique<BoundedBackend>(BackendOptions::parse(options));
}

std::uint64_t entry(std::size_t size) { return BoundedBackend::entry_bytes(size); }

TEST(Bounded, DefaultsAreMaculas) {
  BoundedBackend b;
  EXPECT_EQ(b.capacity(), 1000u);
  EXPECT_EQ(b.max_entry(), 64u * 1024);
}

TEST(Bounded, CapRefusesWhenEveryEntryIsLive) {
  auto b = make("capacity=3");
  void* p[3];
  for (auto& q : p) {
    q = b->allocate(100, 8);
    ASSERT_NE(q, nullptr);
  }
  EXPECT_EQ(b->live_entries(), 3u);
  EXPECT_EQ(b->allocate(100, 8), nullptr);
  EXPECT_EQ(b->allocate(5000, 8), nullptr);
  EXPECT_EQ(b->stats().rejections, 2u);
  EXPECT_EQ(b->stats().failed_allocations, 2u);
  EXPECT_EQ(b->evictions(), 0u);
  // A freed entry is reused by its class without going upstream.
  b->deallocate(p[1], 100, 8);
  auto reserved = b->stats().reserved_bytes;
  void* again = b->allocate(90, 8);
  EXPECT_EQ(again, p[1]);
  EXPECT_EQ(b->hits(), 1u);
  EXPECT_EQ(b->stats().reserved_bytes, reserved);
  EXPECT_EQ(b->allocate(100, 8), nullptr);
  EXPECT_EQ(b->stats().rejections, 3u);
  b->deallocate(p[0], 100, 8);
  b->deallocate(again, 90, 8);
  b->deallocate(p[2], 100, 8);
  EXPECT_EQ(b->idle_entries(), 3u);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(Bounded, EvictsTheLeastRecentlyUsedIdleEntry) {
  auto b = make("capacity=3");
  void* a = b->allocate(64, 8);
  void* m = b->allocate(128, 8);
  void* c = b->allocate(256, 8);
  b->deallocate(a, 64, 8);  // idle, oldest
  b->deallocate(m, 128, 8);
  b->deallocate(c, 256, 8);  // idle, newest
  EXPECT_EQ(b->stats().reserved_bytes, entry(64) + entry(128) + entry(256));
  // A new class at capacity evicts the 64 B entry (used longest ago).
  void* d = b->allocate(512, 8);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(b->evictions(), 1u);
  EXPECT_EQ(b->stats().reserved_bytes, entry(128) + entry(256) + entry(512));
  // Asking for 64 B again is a miss: it evicts the next oldest, 128 B.
  void* a2 = b->allocate(64, 8);
  ASSERT_NE(a2, nullptr);
  EXPECT_EQ(b->evictions(), 2u);
  EXPECT_EQ(b->stats().reserved_bytes, entry(64) + entry(256) + entry(512));
  // Use refreshes recency: reuse the 256 B entry and free it again, so the
  // LRU order of the idle entries becomes 512, 64, 256.
  b->deallocate(d, 512, 8);
  b->deallocate(a2, 64, 8);
  void* c2 = b->allocate(256, 8);
  EXPECT_EQ(c2, c);
  b->deallocate(c2, 256, 8);
  void* k = b->allocate(1024, 8);  // evicts 512
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, entry(64) + entry(256) + entry(1024));
  void* x = b->allocate(2048, 8);  // evicts 64
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, entry(256) + entry(1024) + entry(2048));
  EXPECT_EQ(b->evictions(), 4u);
  EXPECT_EQ(b->stats().rejections, 0u);
  b->deallocate(k, 1024, 8);
  b->deallocate(x, 2048, 8);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(Bounded, LargeAndOverAlignedFallThroughOutsideTheCap) {
  auto b = make("capacity=1,max_entry=4k");
  void* big = b->allocate(10000, 8);
  void* al = b->allocate(100, 64);
  ASSERT_NE(big, nullptr);
  ASSERT_NE(al, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(al) % 64, 0u);
  EXPECT_EQ(b->stats().fallthrough_allocations, 2u);
  EXPECT_EQ(b->live_entries(), 0u);
  void* small = b->allocate(100, 8);
  EXPECT_NE(small, nullptr);
  b->deallocate(big, 10000, 8);
  b->deallocate(al, 100, 64);
  b->deallocate(small, 100, 8);
  b->release_to_os();
  EXPECT_EQ(b->stats().reserved_bytes, 0u);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(Bounded, ContentsSurviveReuse) {
  auto b = make("capacity=64");
  std::vector<void*> live;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 40; ++i) {
      void* p = b->allocate(48 + i, 8);
      ASSERT_NE(p, nullptr);
      std::memset(p, i, 48 + i);
      live.push_back(p);
    }
    for (int i = 0; i < 40; ++i) {
      auto* q = static_cast<unsigned char*>(live[i]);
      for (int k = 0; k < 48 + i; ++k) ASSERT_EQ(q[k], i);
      b->deallocate(live[i], 48 + i, 8);
    }
    live.clear();
  }
  EXPECT_GT(b->hits(), 1000u);
}

TEST(Bounded, Conformance) {
  conformance::run_conformance([] { return std::make_unique<BoundedBackend>(); });
}

TEST(Bounded, ConformanceLargeCap) {
  conformance::run_conformance([] { return make("capacity=100000,max_entry=16m"); });
}

}  // namespace
}  // namespace alloclab
