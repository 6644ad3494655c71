// fixed-regions (FixedRegionsBackend, Nea): a request that outgrows its region
// is rejected alone; with every region busy new requests meet back-pressure;
// the footprint is fixed at construction.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "allocators/strategies/fixed_regions.hpp"
#include "allocators/tests/conformance.hpp"

#ifdef ALLOCLAB_SANITIZED
// conformance.hpp asks the base allocator for 64 TiB and expects nullptr;
// ASan aborts on that unless told to return null as malloc does.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace alloclab {
namespace {

using Scope = FixedRegionsBackend::Scope;

std::unique_ptr<FixedRegionsBackend> make(const char* options) {
  return std::make_unique<FixedRegionsBackend>(BackendOptions::parse(options));
}

TEST(FixedRegions, DefaultsAreNeas) {
  FixedRegionsBackend b;
  EXPECT_EQ(b.regions(), 64u);
  EXPECT_EQ(b.region_size(), 4096u * 128);
  EXPECT_EQ(b.mapped_bytes(), 64u * 4096 * 128);
  EXPECT_GE(b.stats().reserved_bytes, b.mapped_bytes());
}

TEST(FixedRegions, OutgrownRequestIsRejectedAlone) {
  auto b = make("regions=4,region=64k");
  Scope r1 = b->open_scope(ScopeKind::request, Scope{});
  Scope r2 = b->open_scope(ScopeKind::request, Scope{});
  ASSERT_NE(r1, nullptr);
  ASSERT_NE(r2, nullptr);
  void* keep = b->allocate(r2, 1000, 8);
  ASSERT_NE(keep, nullptr);
  std::memset(keep, 0x5A, 1000);
  ASSERT_NE(b->allocate(r1, 60 * 1024, 8), nullptr);
  auto before = b->stats();
  EXPECT_EQ(b->allocate(r1, 8 * 1024, 8), nullptr);
  EXPECT_TRUE(b->cancelled(r1));
  // The request is cancelled: even a small allocation now fails, and it is
  // still one rejected request.
  EXPECT_EQ(b->allocate(r1, 16, 8), nullptr);
  auto after = b->stats();
  EXPECT_EQ(after.failed_allocations, before.failed_allocations + 2);
  EXPECT_EQ(after.rejections, before.rejections + 1);
  EXPECT_EQ(after.cancelled_requests, before.cancelled_requests + 1);  // over its limit, told apart
  EXPECT_EQ(after.turned_away_requests, 0u);
  // The other request is not affected.
  EXPECT_FALSE(b->cancelled(r2));
  void* p = b->allocate(r2, 60 * 1024, 8);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 60 * 1024);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(static_cast<unsigned char*>(keep)[i], 0x5A);
  // The region comes back whole for the next request.
  b->close_scope(r1);
  Scope r3 = b->open_scope(ScopeKind::request, Scope{});
  ASSERT_NE(r3, nullptr);
  EXPECT_FALSE(b->cancelled(r3));
  EXPECT_NE(b->allocate(r3, 64 * 1024 - 64, 8), nullptr);
  b->close_scope(r3);
  b->close_scope(r2);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(FixedRegions, AllRegionsBusyIsBackPressure) {
  auto b = make("regions=3,region=16k");
  std::vector<Scope> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(b->open_scope(ScopeKind::request, Scope{}));
    ASSERT_NE(held.back(), nullptr);
  }
  EXPECT_EQ(b->busy_regions(), 3u);
  auto before = b->stats();
  EXPECT_EQ(b->open_scope(ScopeKind::request, Scope{}), nullptr);
  EXPECT_EQ(b->open_scope(ScopeKind::request, Scope{}), nullptr);
  EXPECT_EQ(b->stats().rejections, before.rejections + 2);
  EXPECT_EQ(b->stats().turned_away_requests, before.turned_away_requests + 2);  // back-pressure, told apart
  EXPECT_EQ(b->stats().cancelled_requests, 0u);
  EXPECT_EQ(b->stats().failed_allocations, before.failed_allocations);
  b->close_scope(held[1]);
  Scope again = b->open_scope(ScopeKind::request, Scope{});
  EXPECT_NE(again, nullptr);
  EXPECT_EQ(b->busy_regions(), 3u);
  b->close_scope(again);
  b->close_scope(held[0]);
  b->close_scope(held[2]);
  EXPECT_EQ(b->busy_regions(), 0u);
}

TEST(FixedRegions, FootprintIsConstantFromConstruction) {
  auto b = make("regions=4,region=32k");
  const auto reserved = b->stats().reserved_bytes;
  EXPECT_GE(reserved, 4u * 32 * 1024);
  std::uint64_t rng = 7;
  for (int round = 0; round < 200; ++round) {
    std::vector<Scope> open;
    for (int r = 0; r < 6; ++r) {  // more than there are regions
      Scope s = b->open_scope(ScopeKind::request, Scope{});
      if (s != nullptr) open.push_back(s);
      ASSERT_EQ(b->stats().reserved_bytes, reserved);
    }
    for (Scope s : open) {
      Scope child = b->open_scope(ScopeKind::child, s);
      for (int i = 0; i < 40; ++i) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        std::size_t size = 1 + (rng >> 33) % 2000;  // some requests outgrow 32k
        b->allocate(child != nullptr && i % 2 ? child : s, size, 8);
      }
      ASSERT_EQ(b->stats().reserved_bytes, reserved);
    }
    for (Scope s : open) b->close_scope(s);
    ASSERT_EQ(b->stats().reserved_bytes, reserved);
  }
  EXPECT_GT(b->stats().rejections, 0u);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(FixedRegions, ChildrenShareTheRequestsRegion) {
  auto b = make("regions=2,region=16k");
  Scope req = b->open_scope(ScopeKind::request, Scope{});
  Scope child = b->open_scope(ScopeKind::child, req);
  ASSERT_NE(child, nullptr);
  ASSERT_NE(b->allocate(child, 12 * 1024, 8), nullptr);
  b->close_scope(child);  // its bytes leave in_use but the region keeps them
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
  EXPECT_EQ(b->allocate(req, 8 * 1024, 8), nullptr);
  EXPECT_TRUE(b->cancelled(req));
  Scope c2 = b->open_scope(ScopeKind::child, req);  // left open: closed with req
  EXPECT_EQ(c2, nullptr) << "a cancelled request opens no child";
  b->close_scope(req);
  Scope next = b->open_scope(ScopeKind::request, Scope{});
  Scope c3 = b->open_scope(ScopeKind::child, next);
  ASSERT_NE(c3, nullptr);
  ASSERT_NE(b->allocate(c3, 100, 8), nullptr);
  b->close_scope(next);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(FixedRegions, AlignmentAboveAPageIsRefusedWithoutCancelling) {
  auto b = make("regions=1,region=64k");
  Scope req = b->open_scope(ScopeKind::request, Scope{});
  void* p = b->allocate(req, 100, 4096);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, 0u);
  EXPECT_EQ(b->allocate(req, 100, 8192), nullptr);
  EXPECT_EQ(b->stats().failed_allocations, 1u);
  EXPECT_EQ(b->stats().rejections, 0u);
  EXPECT_FALSE(b->cancelled(req));
  b->close_scope(req);
}

TEST(FixedRegions, ConnectionAllocationsFallThroughAndAreFreed) {
  auto b = make("regions=2,region=16k");
  const auto reserved = b->stats().reserved_bytes;
  Scope conn = b->open_scope(ScopeKind::connection, Scope{});
  void* a = b->allocate(conn, 100, 8);
  void* c = b->allocate(conn, 5000, 64);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c) % 64, 0u);
  EXPECT_EQ(b->stats().fallthrough_allocations, 2u);
  EXPECT_GT(b->stats().reserved_bytes, reserved);
  b->deallocate(conn, a, 100, 8);  // freed early
  EXPECT_EQ(b->stats().in_use_bytes, 5000u);
  Scope req = b->open_scope(ScopeKind::request, conn);
  ASSERT_NE(b->allocate(req, 100, 8), nullptr);
  b->close_scope(conn);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
  EXPECT_EQ(b->stats().reserved_bytes, reserved);
  EXPECT_EQ(b->busy_regions(), 0u);
}

TEST(FixedRegions, Conformance) {
  conformance::run_conformance([] { return std::make_unique<FixedRegionsBackend>(); });
}

}  // namespace
}  // namespace alloclab
