// recycle (RecycleBackend, Deno's HttpRecord pool): the pool follows a target
// of 2 x requests in flight, is truncated to it when more than 8 over, and
// steady-state requests make no calls to the process malloc.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "allocators/strategies/recycle.hpp"
#include "allocators/tests/conformance.hpp"

#ifdef ALLOCLAB_SANITIZED
// conformance.hpp asks the base allocator for 64 TiB and expects nullptr;
// ASan aborts on that unless told to return null as malloc does.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace alloclab {
namespace {

using Scope = RecycleBackend::Scope;

std::unique_ptr<RecycleBackend> make(const char* options) {
  return std::make_unique<RecycleBackend>(BackendOptions::parse(options));
}

TEST(Recycle, TargetIsTwiceInFlightByDefault) {
  RecycleBackend b;
  EXPECT_EQ(b.target(0), 0u);
  EXPECT_EQ(b.target(1), 2u);
  EXPECT_EQ(b.target(37), 74u);
  EXPECT_EQ(b.record_size(), 4096u);
  auto deno = make("base=16,mul=1,div=8");  // ext/http/service.rs
  EXPECT_EQ(deno->target(0), 16u);
  EXPECT_EQ(deno->target(64), 24u);
}

TEST(Recycle, PoolKeepsRecordsWhileBelowTarget) {
  RecycleBackend b;
  std::vector<Scope> open;
  for (int i = 0; i < 10; ++i) open.push_back(b.open_scope(ScopeKind::request, Scope{}));
  EXPECT_EQ(b.in_flight(), 10u);
  EXPECT_EQ(b.upstream_allocs(), 10u);
  // Closing with k in flight (this one included): pushed while 2k > pool.
  // In flight 10..1 -> targets 20..2; the pool stops at 7 (target 6 <= 7).
  const std::size_t expected[] = {1, 2, 3, 4, 5, 6, 7, 7, 7, 7};
  for (int i = 0; i < 10; ++i) {
    b.close_scope(open[i]);
    EXPECT_EQ(b.pool_size(), expected[i]) << "after closing " << i + 1;
  }
  EXPECT_EQ(b.upstream_frees(), 3u) << "records beyond the target are freed";
  // Records are reused: seven requests need no new record.
  for (int i = 0; i < 7; ++i) open[i] = b.open_scope(ScopeKind::request, Scope{});
  EXPECT_EQ(b.upstream_allocs(), 10u);
  EXPECT_EQ(b.pool_size(), 0u);
  for (int i = 0; i < 7; ++i) b.close_scope(open[i]);
}

TEST(Recycle, PoolIsTruncatedToTargetOnlyBeyondPlusEight) {
  RecycleBackend b;
  std::vector<Scope> open;
  for (int i = 0; i < 20; ++i) open.push_back(b.open_scope(ScopeKind::request, Scope{}));
  // The m-th close has 21 - m in flight: pushed while 2 (21 - m) > m - 1,
  // that is for m <= 14.
  for (int i = 0; i < 14; ++i) b.close_scope(open[i]);
  EXPECT_EQ(b.pool_size(), 14u);
  // Closes 15..18: targets 12, 10, 8, 6; pool 14 <= target + 8: kept as is.
  for (int i = 14; i < 18; ++i) {
    b.close_scope(open[i]);
    EXPECT_EQ(b.pool_size(), 14u) << "close " << i + 1 << " target " << b.target(20 - i);
  }
  // Close 19: target 4, 14 > 4 + 8: truncated to the target.
  auto frees = b.upstream_frees();
  b.close_scope(open[18]);
  EXPECT_EQ(b.pool_size(), 4u);
  EXPECT_EQ(b.upstream_frees(), frees + 1 + 10) << "the record itself and ten pooled ones";
  // Close 20: target 2, pool 4 is within +8: kept.
  b.close_scope(open[19]);
  EXPECT_EQ(b.pool_size(), 4u);
  b.release_to_os();
  EXPECT_EQ(b.pool_size(), 0u);
  EXPECT_EQ(b.stats().reserved_bytes, 0u);
}

TEST(Recycle, SteadyStateMakesNoUpstreamCalls) {
  RecycleBackend b;
  Scope conn = b.open_scope(ScopeKind::connection, Scope{});
  std::deque<Scope> in_flight;
  auto serve = [&](Scope req, int salt) {
    for (int i = 0; i < 20; ++i) {
      std::size_t size = 24 + static_cast<std::size_t>((i * 37 + salt) % 120);
      void* p = b.allocate(req, size, 8);
      ASSERT_NE(p, nullptr);
      std::memset(p, i, size);
    }
    Scope child = b.open_scope(ScopeKind::child, req);
    ASSERT_NE(b.allocate(child, 200, 8), nullptr);
  };
  // Eight requests in flight, the oldest completing as each new one starts.
  for (int i = 0; i < 8; ++i) {
    in_flight.push_back(b.open_scope(ScopeKind::request, conn));
    serve(in_flight.back(), i);
  }
  for (int i = 0; i < 100; ++i) {  // warm-up
    b.close_scope(in_flight.front());
    in_flight.pop_front();
    in_flight.push_back(b.open_scope(ScopeKind::request, conn));
    serve(in_flight.back(), i);
  }
  const auto allocs = b.upstream_allocs(), frees = b.upstream_frees();
  const auto reserved = b.stats().reserved_bytes;
  const auto misses = b.stats().pool_misses;
  EXPECT_GE(misses, 8u);  // a record for each of the eight in flight, at least
  EXPECT_LE(misses, allocs);
  for (int i = 0; i < 10000; ++i) {
    b.close_scope(in_flight.front());
    in_flight.pop_front();
    in_flight.push_back(b.open_scope(ScopeKind::request, conn));
    serve(in_flight.back(), i);
  }
  EXPECT_EQ(b.upstream_allocs(), allocs);
  EXPECT_EQ(b.upstream_frees(), frees);
  EXPECT_EQ(b.stats().pool_misses, misses);
  EXPECT_EQ(b.stats().reserved_bytes, reserved);
  EXPECT_EQ(b.stats().fallthrough_allocations, 0u);
  EXPECT_LE(b.pool_size(), b.target(8) + 8);
  b.close_scope(conn);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(Recycle, OverflowFallsThroughAndIsTracked) {
  RecycleBackend b;
  Scope req = b.open_scope(ScopeKind::request, Scope{});
  ASSERT_NE(b.allocate(req, 3000, 8), nullptr);
  auto allocs = b.upstream_allocs();
  void* big = b.allocate(req, 5000, 8);  // does not fit the 4 KiB record
  ASSERT_NE(big, nullptr);
  void* aligned = b.allocate(req, 100, 4096);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 4096, 0u);
  EXPECT_EQ(b.stats().fallthrough_allocations, 2u);
  EXPECT_EQ(b.upstream_allocs(), allocs + 2);
  b.deallocate(req, big, 5000, 8);  // freed early
  EXPECT_EQ(b.upstream_frees(), 1u);
  EXPECT_EQ(b.stats().in_use_bytes, 3100u);
  b.close_scope(req);
  EXPECT_EQ(b.upstream_frees(), 2u);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
  EXPECT_EQ(b.pool_size(), 1u);
  EXPECT_GT(b.stats().reserved_bytes, b.record_size());  // the pooled record
  b.release_to_os();
  EXPECT_EQ(b.stats().reserved_bytes, 0u);
}

TEST(Recycle, ChildrenShareTheRecordAndCloseWithTheRequest) {
  auto b = make("record=1k");
  Scope req = b->open_scope(ScopeKind::request, Scope{});
  auto allocs = b->upstream_allocs();
  Scope child = b->open_scope(ScopeKind::child, req);
  Scope grandchild = b->open_scope(ScopeKind::child, child);
  EXPECT_EQ(b->upstream_allocs(), allocs) << "descriptors come from the record";
  ASSERT_NE(b->allocate(grandchild, 100, 8), nullptr);
  ASSERT_NE(b->allocate(grandchild, 2000, 8), nullptr);  // overflow
  EXPECT_EQ(b->stats().in_use_bytes, 2100u);
  b->close_scope(req);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
  EXPECT_EQ(b->upstream_frees(), 1u);
  EXPECT_EQ(b->in_flight(), 0u);
}

TEST(Recycle, Conformance) {
  conformance::run_conformance([] { return std::make_unique<RecycleBackend>(); });
}

TEST(Recycle, ConformanceDenoTarget) {
  conformance::run_conformance([] { return make("base=16,mul=1,div=8,record=512"); });
}

}  // namespace
}  // namespace alloclab
