// bump: pointer-increment arenas with chained chunks and O(1) reset.
#include "allocators/strategies/bump.hpp"

#include <gtest/gtest.h>

#include "allocators/tests/conformance.hpp"

namespace alloclab {
namespace {

using Scope = BumpBackend::Scope;

TEST(Bump, AllocationsAreContiguousPointerBumps) {
  BumpBackend b;
  Scope s = b.open_scope(ScopeKind::request, Scope{});
  auto* p1 = static_cast<char*>(b.allocate(s, 32, 8));
  auto* p2 = static_cast<char*>(b.allocate(s, 32, 8));
  auto* p3 = static_cast<char*>(b.allocate(s, 3, 1));
  auto* p4 = static_cast<char*>(b.allocate(s, 1, 1));
  EXPECT_EQ(p2, p1 + 32);
  EXPECT_EQ(p3, p2 + 32);
  EXPECT_EQ(p4, p3 + 3);  // no padding when the size needs none
  EXPECT_EQ(b.stats().in_use_bytes, 68u);
  b.close_scope(s);
}

TEST(Bump, WasteIsCountedInParts) {
  BumpBackend b;
  // Padding: a 1-byte object then a 16-aligned one leaves up to 15 bytes
  // between them; 16-byte objects at 16 leave none.
  Scope tight = b.open_scope(ScopeKind::request, Scope{});
  for (int i = 0; i < 8; ++i) ASSERT_NE(b.allocate(tight, 16, 16), nullptr);
  b.close_scope(tight);
  const auto after_tight = b.stats();
  EXPECT_EQ(after_tight.scoped_bytes, 128u);
  EXPECT_LT(after_tight.padding_bytes, 16u);  // at most the first object's alignment
  Scope loose = b.open_scope(ScopeKind::request, Scope{});
  char* prev = nullptr;
  std::uint64_t gaps = 0;
  for (int i = 0; i < 8; ++i) {
    auto* one = static_cast<char*>(b.allocate(loose, 1, 1));
    auto* aligned = static_cast<char*>(b.allocate(loose, 16, 16));
    ASSERT_NE(one, nullptr);
    ASSERT_NE(aligned, nullptr);
    gaps += static_cast<std::uint64_t>(aligned - (one + 1));
    if (prev) gaps += static_cast<std::uint64_t>(one - prev);
    prev = aligned + 16;
  }
  // Blocks freed inside a scope are not reusable before it closes.
  b.deallocate(loose, prev - 16, 16, 16);
  b.close_scope(loose);
  const auto after_loose = b.stats();
  EXPECT_EQ(after_loose.scoped_bytes - after_tight.scoped_bytes, 8u * 17);
  EXPECT_GE(after_loose.padding_bytes - after_tight.padding_bytes, gaps);
  EXPECT_LT(after_loose.padding_bytes - after_tight.padding_bytes, gaps + 16);
  EXPECT_EQ(gaps, 8u * 15);
  EXPECT_EQ(after_loose.freed_in_scope_bytes, 16u);
  // A spill's chunk tail is wasted_bytes, not padding.
  Scope spill = b.open_scope(ScopeKind::request, Scope{});
  ASSERT_NE(b.allocate(spill, 6000, 16), nullptr);
  ASSERT_NE(b.allocate(spill, 6000, 16), nullptr);
  b.close_scope(spill);
  EXPECT_GT(b.stats().wasted_bytes, 1000u);
  EXPECT_LT(b.stats().padding_bytes - after_loose.padding_bytes, 32u);
}

TEST(Bump, FirstChunkIs8KiBByDefaultAndConfigurable) {
  BumpBackend def;
  EXPECT_EQ(def.first_chunk(), 8192u);
  Scope s = def.open_scope(ScopeKind::request, Scope{});
  EXPECT_EQ(def.stats().reserved_bytes, 8192u);
  def.close_scope(s);
  BumpBackend big(BackendOptions::parse("first_chunk=64k"));
  Scope t = big.open_scope(ScopeKind::request, Scope{});
  EXPECT_EQ(big.stats().reserved_bytes, 65536u);
  big.close_scope(t);
}

TEST(Bump, SpillsChainAChunkAndCountTheWastedTail) {
  BumpBackend b;
  Scope s = b.open_scope(ScopeKind::request, Scope{});
  // Fill most of the first chunk, then ask for more than is left.
  void* a = b.allocate(s, 7000, 16);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(b.stats().spills, 0u);
  void* c = b.allocate(s, 2000, 16);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(b.stats().spills, 1u);
  EXPECT_EQ(b.stats().reserved_bytes, 2 * 8192u);
  // Wasted: what was left in the first chunk after the 7000 bytes.
  EXPECT_GT(b.stats().wasted_bytes, 0u);
  EXPECT_LT(b.stats().wasted_bytes, 8192u - 7000u);
  b.close_scope(s);
}

TEST(Bump, AnAllocationLargerThanAChunkGetsAnOversizedChunk) {
  BumpBackend b;
  Scope s = b.open_scope(ScopeKind::request, Scope{});
  void* p = b.allocate(s, 100000, 16);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 100000);
  EXPECT_GE(b.stats().reserved_bytes, 8192u + 100000u);
  b.close_scope(s);
  // The oversized chunk goes back upstream; the standard one is kept.
  EXPECT_EQ(b.stats().reserved_bytes, 8192u);
}

TEST(Bump, CloseResetsAndTheNextScopeReusesTheChunks) {
  BumpBackend b;
  Scope s = b.open_scope(ScopeKind::request, Scope{});
  for (int i = 0; i < 100; ++i) b.allocate(s, 200, 8);  // ~20 KB: three chunks
  auto reserved = b.stats().reserved_bytes;
  EXPECT_EQ(reserved, 3 * 8192u);
  b.close_scope(s);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
  EXPECT_EQ(b.stats().reserved_bytes, reserved) << "chunks are kept for reuse";
  // A new scope of the same shape takes no new memory.
  Scope t = b.open_scope(ScopeKind::request, Scope{});
  for (int i = 0; i < 100; ++i) b.allocate(t, 200, 8);
  EXPECT_EQ(b.stats().reserved_bytes, reserved);
  b.close_scope(t);
  b.release_to_os();
  EXPECT_EQ(b.stats().reserved_bytes, 0u);
}

TEST(Bump, RetainCapsTheChunksKept) {
  BumpBackend b(BackendOptions::parse("retain=1"));
  Scope s = b.open_scope(ScopeKind::request, Scope{});
  for (int i = 0; i < 100; ++i) b.allocate(s, 200, 8);
  b.close_scope(s);
  EXPECT_EQ(b.stats().reserved_bytes, 8192u);
}

TEST(Bump, DeallocateInAScopeIsANoOp) {
  BumpBackend b;
  Scope s = b.open_scope(ScopeKind::request, Scope{});
  void* p = b.allocate(s, 64, 8);
  b.deallocate(s, p, 64, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 64u);
  void* q = b.allocate(s, 64, 8);
  EXPECT_NE(p, q) << "a region allocator does not reuse before reset";
  b.close_scope(s);
}

TEST(Bump, ClosingAParentClosesItsOpenChildren) {
  BumpBackend b;
  Scope conn = b.open_scope(ScopeKind::connection, Scope{});
  Scope req = b.open_scope(ScopeKind::request, conn);
  Scope child = b.open_scope(ScopeKind::child, req);
  b.allocate(conn, 100, 8);
  b.allocate(req, 200, 8);
  b.allocate(child, 300, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 600u);
  b.close_scope(conn);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(Bump, UnscopedAllocationsFallThroughToTheBase) {
  BumpBackend b;
  void* p = b.allocate(100, 8);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(b.stats().fallthrough_allocations, 1u);
  EXPECT_EQ(b.stats().in_use_bytes, 100u);
  b.deallocate(p, 100, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(Bump, ImpossibleRequestsReturnNullAndAreCounted) {
  BumpBackend b;
  Scope s = b.open_scope(ScopeKind::request, Scope{});
  EXPECT_EQ(b.allocate(s, std::size_t{1} << 62, 8), nullptr);
  EXPECT_EQ(b.allocate(s, SIZE_MAX, 8), nullptr);
  EXPECT_EQ(b.stats().failed_allocations, 2u);
  EXPECT_NE(b.allocate(s, 8, 8), nullptr) << "the scope still works";
  b.close_scope(s);
}

TEST(Bump, Conformance) {
  conformance::run_conformance([] { return std::make_unique<BumpBackend>(); });
  conformance::run_conformance([] { return std::make_unique<BumpBackend>(BackendOptions::parse("first_chunk=256,retain=0")); });
}

}  // namespace
}  // namespace alloclab
