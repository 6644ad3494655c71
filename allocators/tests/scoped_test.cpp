// scoped (RequestScopeBackend): the memory limit fails only the request that
// crosses it and counts that request once; nested scopes are charged to their
// request and released with it.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "allocators/strategies/scoped.hpp"
#include "allocators/tests/conformance.hpp"

#ifdef ALLOCLAB_SANITIZED
// conformance.hpp asks the base allocator for 64 TiB and expects nullptr;
// ASan aborts on that unless told to return null as malloc does.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace alloclab {
namespace {

using Scope = RequestScopeBackend::Scope;

std::unique_ptr<RequestScopeBackend> make(const char* options) {
  return std::make_unique<RequestScopeBackend>(BackendOptions::parse(options));
}

TEST(Scoped, DefaultsAreTheSeeds) {
  RequestScopeBackend b;
  EXPECT_EQ(b.limit(), 1024u * 1024);
  EXPECT_EQ(b.chunk(), 512u * 1024);
  EXPECT_EQ(b.nested_chunk(), 64u * 1024);
}

TEST(Scoped, LimitFailsThatRequestAndCountsItOnce) {
  auto b = make("limit=64k");
  Scope conn = b->open_scope(ScopeKind::connection, Scope{});
  Scope r1 = b->open_scope(ScopeKind::request, conn);
  Scope r2 = b->open_scope(ScopeKind::request, conn);
  ASSERT_NE(b->allocate(r1, 60 * 1024, 8), nullptr);
  auto before = b->stats();
  EXPECT_EQ(b->allocate(r1, 8 * 1024, 8), nullptr);
  EXPECT_EQ(b->allocate(r1, 5 * 1024, 8), nullptr);
  auto after = b->stats();
  EXPECT_EQ(after.failed_allocations, before.failed_allocations + 2);
  EXPECT_EQ(after.rejections, before.rejections + 1) << "a request is counted once";
  EXPECT_EQ(b->charged(r1), 60u * 1024);
  // Up to the limit exactly is still served.
  EXPECT_NE(b->allocate(r1, 4 * 1024, 8), nullptr);
  EXPECT_EQ(b->allocate(r1, 1, 1), nullptr);
  // The other request is unaffected.
  void* p = b->allocate(r2, 60 * 1024, 8);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 60 * 1024);
  EXPECT_EQ(b->stats().rejections, after.rejections);
  // A second request over its limit is a second rejection.
  EXPECT_EQ(b->allocate(r2, 8 * 1024, 8), nullptr);
  EXPECT_EQ(b->stats().rejections, after.rejections + 1);
  b->close_scope(conn);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(Scoped, ChildrenChargeTheirRequestAndAreReleasedWithIt) {
  auto b = make("limit=64k");
  Scope req = b->open_scope(ScopeKind::request, Scope{});
  Scope child = b->open_scope(ScopeKind::child, req);
  Scope grandchild = b->open_scope(ScopeKind::child, child);
  ASSERT_NE(b->allocate(child, 30 * 1024, 8), nullptr);
  ASSERT_NE(b->allocate(grandchild, 10 * 1024, 8), nullptr);
  EXPECT_EQ(b->charged(req), 40u * 1024);
  EXPECT_EQ(b->charged(grandchild), 40u * 1024);
  EXPECT_EQ(b->allocate(req, 30 * 1024, 8), nullptr) << "children count against the request's limit";
  EXPECT_EQ(b->stats().rejections, 1u);
  // Closing the child (and the grandchild with it) returns the budget.
  b->close_scope(child);
  EXPECT_EQ(b->charged(req), 0u);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
  EXPECT_NE(b->allocate(req, 30 * 1024, 8), nullptr);
  // Children left open are released when the request closes, and their
  // chunks are reused by the next request: the footprint does not grow.
  Scope c2 = b->open_scope(ScopeKind::child, req);
  ASSERT_NE(b->allocate(c2, 1000, 8), nullptr);
  b->close_scope(req);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
  auto reserved = b->stats().reserved_bytes;
  for (int i = 0; i < 10; ++i) {
    Scope r = b->open_scope(ScopeKind::request, Scope{});
    Scope c = b->open_scope(ScopeKind::child, r);
    ASSERT_NE(b->allocate(c, 1000, 8), nullptr);
    ASSERT_NE(b->allocate(r, 1000, 8), nullptr);
    b->close_scope(r);
  }
  EXPECT_EQ(b->stats().reserved_bytes, reserved);
  EXPECT_EQ(b->stats().rejections, 1u);
}

TEST(Scoped, ConnectionsAreUnlimitedAndRequestsInsideHaveTheirOwnBudget) {
  auto b = make("limit=16k,nested_chunk=4k");
  Scope conn = b->open_scope(ScopeKind::connection, Scope{});
  EXPECT_NE(b->allocate(conn, 100 * 1024, 8), nullptr);
  EXPECT_EQ(b->charged(conn), 0u);
  Scope req = b->open_scope(ScopeKind::request, conn);
  EXPECT_EQ(b->charged(req), 0u);
  EXPECT_NE(b->allocate(req, 16 * 1024, 8), nullptr);
  EXPECT_EQ(b->allocate(req, 1, 1), nullptr);
  EXPECT_EQ(b->stats().rejections, 1u);
  b->close_scope(conn);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(Scoped, ArenaSpillsIntoChainedChunks) {
  auto b = make("limit=1m,chunk=8k");
  Scope req = b->open_scope(ScopeKind::request, Scope{});
  for (int i = 0; i < 10; ++i) {
    void* p = b->allocate(req, 3000, 8);
    ASSERT_NE(p, nullptr);
    std::memset(p, i, 3000);
  }
  EXPECT_GE(b->stats().spills, 3u);
  EXPECT_GT(b->stats().wasted_bytes, 0u);
  void* big = b->allocate(req, 100 * 1024, 4096);  // larger than a chunk: its own chunk
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(big) % 4096, 0u);
  b->close_scope(req);
  b->release_to_os();
  EXPECT_EQ(b->stats().reserved_bytes, 0u);
}

TEST(Scoped, UnscopedFallsThrough) {
  RequestScopeBackend b;
  void* p = b.allocate(100, 8);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(b.stats().fallthrough_allocations, 1u);
  b.deallocate(p, 100, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(Scoped, Conformance) {
  conformance::run_conformance([] { return std::make_unique<RequestScopeBackend>(); });
}

TEST(Scoped, ConformanceSmallChunksTightLimit) {
  conformance::run_conformance([] { return make("limit=256k,chunk=4k,nested_chunk=1k"); });
}

}  // namespace
}  // namespace alloclab
