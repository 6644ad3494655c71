// The apr model's named semantics (apr.hpp header comment), each checked
// against the figures of apr_pools.c, plus the conformance suite.
#include "allocators/strategies/apr.hpp"

#include <gtest/gtest.h>

#include <cstdint>
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

using Scope = AprBackend::Scope;
constexpr std::size_t kPage = AprBackend::kBoundary;

std::unique_ptr<AprBackend> make(const char* opts = "") {
  return std::make_unique<AprBackend>(BackendOptions::parse(opts));
}

// A 16-byte-multiple payload that makes a fresh node of exactly `index`
// (pages - 1): header plus worst-case padding to 16 fill the rest.
constexpr std::size_t payload_for_index(std::size_t index) { return (index + 1) * kPage - 64; }
static_assert(AprBackend::node_size_for(payload_for_index(3) + 8) == 4 * kPage);
static_assert(AprBackend::node_size_for(payload_for_index(1) + 8) == 2 * kPage);

// (node bytes, free bytes) of each node of s, from the active node on.
std::vector<std::pair<std::size_t, std::size_t>> ring(const AprBackend& b, Scope s) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  b.for_each_node(s, [&](std::size_t bytes, std::size_t free) { out.emplace_back(bytes, free); });
  return out;
}

std::size_t active_free(const AprBackend& b, Scope s) { return ring(b, s).front().second; }

// Allocates so that the active node has exactly `left` bytes free (a
// multiple of 16) and its cursor is 16-aligned.
void leave_free(AprBackend& b, Scope s, std::size_t left) {
  auto* p = static_cast<char*>(b.allocate(s, 8, 8));
  ASSERT_NE(p, nullptr);
  if (reinterpret_cast<std::uintptr_t>(p + 8) % 16 != 0) {
    ASSERT_NE(b.allocate(s, 8, 8), nullptr);
  }
  std::size_t free = active_free(b, s);
  ASSERT_GE(free, left + 16);
  ASSERT_NE(b.allocate(s, free - left, 16), nullptr);
  ASSERT_EQ(active_free(b, s), left);
}

// Puts one free node of `index` on the allocator's free lists (and the
// 8 KiB self node of the pool that carried it).
void free_node_of_index(AprBackend& b, Scope parent, std::size_t index) {
  Scope tmp = b.open_scope(ScopeKind::child, parent);
  ASSERT_NE(tmp, nullptr);
  ASSERT_NE(b.allocate(tmp, payload_for_index(index), 16), nullptr);
  b.close_scope(tmp);
}

// --- allocator: node sizes and the free-list index ---------------------------

TEST(AprModel, NodesArePageMultiplesOfAtLeast8KiB) {
  EXPECT_EQ(AprBackend::node_size_for(1), 2 * kPage);
  EXPECT_EQ(AprBackend::node_size_for(8192 - 40), 2 * kPage);
  EXPECT_EQ(AprBackend::node_size_for(8192 - 39), 3 * kPage);
  EXPECT_EQ(AprBackend::node_size_for(100000), 25 * kPage);
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  // Global pool + connection pool: one MIN_ALLOC node each.
  EXPECT_EQ(b->stats().reserved_bytes, 2 * 8192u);
  ASSERT_NE(b->allocate(conn, 20000, 8), nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, 2 * 8192u + AprBackend::node_size_for(20000 + 8));
  EXPECT_EQ(b->stats().spills, 1u);
}

TEST(AprModel, FreeListsHaveTwentySlotsAndASink) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = b->open_scope(ScopeKind::request, conn);
  ASSERT_NE(b->allocate(p, payload_for_index(1), 16), nullptr);   // 8 KiB  -> slot 1
  ASSERT_NE(b->allocate(p, payload_for_index(19), 16), nullptr);  // 80 KiB -> slot 19
  ASSERT_NE(b->allocate(p, payload_for_index(20), 16), nullptr);  // 84 KiB -> sink
  ASSERT_NE(b->allocate(p, payload_for_index(49), 16), nullptr);  // 200 KiB -> sink
  b->close_scope(p);
  EXPECT_EQ(b->free_count(1), 2u);  // with p's own node
  EXPECT_EQ(b->free_count(19), 1u);
  EXPECT_EQ(b->free_count(AprBackend::kSlots), 2u);
  EXPECT_EQ(b->max_index(), 19u);
  std::size_t listed = 0;
  for (std::size_t i = 0; i <= AprBackend::kSlots; ++i) listed += b->free_count(i);
  EXPECT_EQ(listed, 5u);
}

TEST(AprModel, SinkIsSearchedOnlyAboveTheHighestSlot) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  // (80 KiB first: with slot 19 empty, a request for index 19 would take a
  // sink node.)
  ASSERT_NO_FATAL_FAILURE(free_node_of_index(*b, conn, 19));  // 80 KiB into slot 19
  ASSERT_NO_FATAL_FAILURE(free_node_of_index(*b, conn, 49));  // 200 KiB into the sink
  ASSERT_EQ(b->free_count(AprBackend::kSlots), 1u);
  ASSERT_EQ(b->max_index(), 19u);
  Scope p = b->open_scope(ScopeKind::request, conn);
  // Index 5 <= max_index 19: only slots [5, 10] are searched; the sink is not.
  auto before = b->stats().reserved_bytes;
  ASSERT_NE(b->allocate(p, payload_for_index(5), 16), nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, before + 6 * kPage);
  EXPECT_EQ(b->free_count(AprBackend::kSlots), 1u);
  EXPECT_EQ(b->free_count(19), 1u);
  // Index 25 > max_index: the sink's first node large enough is taken, with
  // no 2x limit (a 200 KiB node for a 104 KiB request).
  before = b->stats().reserved_bytes;
  ASSERT_NE(b->allocate(p, payload_for_index(25), 16), nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, before);
  EXPECT_EQ(b->free_count(AprBackend::kSlots), 0u);
}

TEST(AprModel, EmptySlotsSendEvenSmallRequestsToTheSink) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = b->open_scope(ScopeKind::request, conn);
  ASSERT_NE(b->allocate(p, payload_for_index(49), 16), nullptr);
  b->close_scope(p);   // its 8 KiB self node -> slot 1, the 200 KiB node -> sink
  Scope q = b->open_scope(ScopeKind::request, conn);  // takes slot 1: max_index drops to 0
  ASSERT_EQ(b->max_index(), 0u);
  ASSERT_EQ(b->free_count(AprBackend::kSlots), 1u);
  // A new pool needs index 1 > max_index 0: its self node is the 200 KiB one.
  auto before = b->stats().reserved_bytes;
  Scope r = b->open_scope(ScopeKind::request, conn);
  EXPECT_EQ(b->stats().reserved_bytes, before);
  EXPECT_EQ(ring(*b, r).front().first, 50 * kPage);
  b->close_scope(r);
  b->close_scope(q);
}

// --- allocator: the 2x rule ---------------------------------------------------

TEST(AprModel, TakesAFreeNodeUpToTwiceTheNeededIndex) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  ASSERT_NO_FATAL_FAILURE(free_node_of_index(*b, conn, 6));  // 28 KiB
  ASSERT_EQ(b->free_count(6), 1u);
  Scope p = b->open_scope(ScopeKind::request, conn);
  auto before = b->stats().reserved_bytes;
  ASSERT_NE(b->allocate(p, payload_for_index(3), 16), nullptr);  // needs index 3 (16 KiB)
  EXPECT_EQ(b->stats().reserved_bytes, before) << "index 6 = 2 x 3 must be taken";
  EXPECT_EQ(b->free_count(6), 0u);
  EXPECT_EQ(ring(*b, p).front().first, 7 * kPage);
}

TEST(AprModel, RefusesAFreeNodeBeyondTwiceTheNeededIndex) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  ASSERT_NO_FATAL_FAILURE(free_node_of_index(*b, conn, 7));  // 32 KiB
  Scope p = b->open_scope(ScopeKind::request, conn);
  auto before = b->stats().reserved_bytes;
  ASSERT_NE(b->allocate(p, payload_for_index(3), 16), nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, before + 4 * kPage) << "index 7 > 2 x 3 must be left";
  EXPECT_EQ(b->free_count(7), 1u);
  EXPECT_EQ(ring(*b, p).front().first, 4 * kPage);
}

TEST(AprModel, Apr17SearchTakesAnyLargerSlot) {
  auto b = make("search_2x=false");
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  ASSERT_NO_FATAL_FAILURE(free_node_of_index(*b, conn, 7));
  Scope p = b->open_scope(ScopeKind::request, conn);
  auto before = b->stats().reserved_bytes;
  ASSERT_NE(b->allocate(p, payload_for_index(3), 16), nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, before);
  EXPECT_EQ(b->free_count(7), 0u);
}

// --- allocator: max_free ------------------------------------------------------

// A pool holding self (8 KiB), an 8 KiB and a 12 KiB node; ring order from
// self: self, the 8 KiB node, then the 12 KiB node (see RingIsResorted...).
Scope pool_with_three_nodes(AprBackend& b, Scope conn) {
  Scope p = b.open_scope(ScopeKind::request, conn);
  EXPECT_NE(b.allocate(p, payload_for_index(1), 16), nullptr);
  EXPECT_NE(b.allocate(p, payload_for_index(2), 16), nullptr);
  return p;
}

TEST(AprModel, MaxFreeSendsNodesBeyondTheBudgetUpstream) {
  auto b = make("max_free=16k");  // 4 pages
  EXPECT_EQ(b->free_budget_pages(), 4u);
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = pool_with_three_nodes(*b, conn);
  EXPECT_EQ(b->stats().reserved_bytes, 8192u * 4 + 12288u);
  b->close_scope(p);
  // self (2 pages) and the 8 KiB node (2 pages) fill the budget; the 12 KiB
  // node goes back upstream.
  EXPECT_EQ(b->free_count(1), 2u);
  EXPECT_EQ(b->free_count(2), 0u);
  EXPECT_EQ(b->free_budget_pages(), 0u);
  EXPECT_EQ(b->stats().reserved_bytes, 8192u * 4);
  // Taking a node off the free lists gives its pages back to the budget.
  Scope q = b->open_scope(ScopeKind::request, conn);
  EXPECT_EQ(b->free_budget_pages(), 2u);
  b->close_scope(q);
  EXPECT_EQ(b->free_budget_pages(), 0u);
  EXPECT_EQ(b->free_count(1), 2u);
}

TEST(AprModel, UnlimitedMaxFreeKeepsEveryNode) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = pool_with_three_nodes(*b, conn);
  b->close_scope(p);
  EXPECT_EQ(b->free_count(1), 2u);
  EXPECT_EQ(b->free_count(2), 1u);
  EXPECT_EQ(b->stats().reserved_bytes, 8192u * 4 + 12288u);
  b->release_to_os();
  EXPECT_EQ(b->stats().reserved_bytes, 8192u * 2);  // global and connection pools
  EXPECT_EQ(b->free_count(1), 0u);
}

// --- pools: the active->next rule and re-sorting -----------------------------

TEST(AprModel, MissTakesActiveNextWhenItFits) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = b->open_scope(ScopeKind::request, conn);
  ASSERT_NO_FATAL_FAILURE(leave_free(*b, p, 3008));
  ASSERT_NE(b->allocate(p, 8000, 16), nullptr);  // new node; self (3008 free) follows it
  auto r = ring(*b, p);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].second, 3008u);
  auto before = b->stats();
  ASSERT_NE(b->allocate(p, 2000, 16), nullptr);  // misses active, fits active->next
  EXPECT_EQ(b->stats().reserved_bytes, before.reserved_bytes);
  EXPECT_EQ(b->stats().spills, before.spills);
  r = ring(*b, p);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].second, 3008u - 2000u) << "active->next became the active node";
}

TEST(AprModel, MissLooksOnlyAtActiveNext) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = b->open_scope(ScopeKind::request, conn);
  ASSERT_NO_FATAL_FAILURE(leave_free(*b, p, 3008));
  ASSERT_NE(b->allocate(p, 8000, 16), nullptr);  // N1; ring N1, self
  ASSERT_NE(b->allocate(p, 8000, 16), nullptr);  // N2; ring N2, N1, self (all 0 free pages)
  auto r = ring(*b, p);
  ASSERT_EQ(r.size(), 3u);
  ASSERT_LT(r[1].second, 2000u);
  ASSERT_EQ(r[2].second, 3008u);
  auto before = b->stats().reserved_bytes;
  // Fits self, two nodes on; only N1 is looked at, so a new node is taken.
  ASSERT_NE(b->allocate(p, 2000, 16), nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, before + 8192u);
  r = ring(*b, p);
  ASSERT_EQ(r.size(), 4u);
  bool self_untouched = false;
  for (auto [bytes, free] : r) self_untouched |= free == 3008u;
  EXPECT_TRUE(self_untouched);
}

TEST(AprModel, RingIsResortedByFreePages) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = b->open_scope(ScopeKind::request, conn);
  ASSERT_NO_FATAL_FAILURE(leave_free(*b, p, 5072));            // self: 1 free page
  ASSERT_NE(b->allocate(p, 6000, 16), nullptr);                // N1 active; self stays behind it
  std::size_t n1_free = active_free(*b, p);
  ASSERT_NE(b->allocate(p, n1_free - 16, 16), nullptr);        // N1: 16 bytes left
  ASSERT_EQ(active_free(*b, p), 16u);
  ASSERT_NE(b->allocate(p, 6000, 16), nullptr);                // N2 active
  // The old active (N1, 0 free pages) moved behind self (1 free page):
  // without re-sorting the ring would read N2, N1, self.
  auto r = ring(*b, p);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].second, 5072u);
  EXPECT_EQ(r[2].second, 16u);
  // So the next miss finds self's free page through active->next.
  auto before = b->stats().reserved_bytes;
  ASSERT_NE(b->allocate(p, 4000, 16), nullptr);
  EXPECT_EQ(b->stats().reserved_bytes, before);
}

TEST(AprModel, RingStaysSortedUnderRandomAllocations) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = b->open_scope(ScopeKind::request, conn);
  std::uint64_t rng = 7;
  for (int i = 0; i < 3000; ++i) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    std::size_t size = 1 + (rng >> 33) % 7000;
    ASSERT_NE(b->allocate(p, size, 8), nullptr);
    auto r = ring(*b, p);
    for (std::size_t k = 2; k < r.size(); ++k) {
      ASSERT_GE(r[k - 1].second / kPage, r[k].second / kPage) << "after allocation " << i;
    }
  }
}

// --- pools: clear versus destroy, children ------------------------------------

TEST(AprModel, ClearKeepsSelfAndTheHandleDestroyFreesAll) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope p = b->open_scope(ScopeKind::request, conn);
  void* first = b->allocate(p, 64, 8);
  for (int i = 0; i < 3; ++i) ASSERT_NE(b->allocate(p, 6000, 8), nullptr);
  std::size_t nodes = ring(*b, p).size();
  ASSERT_GE(nodes, 3u);
  auto reserved = b->stats().reserved_bytes;
  auto free1 = b->free_count(1);
  b->clear_scope(p);
  EXPECT_EQ(b->free_count(1), free1 + nodes - 1) << "every node but self is freed";
  EXPECT_EQ(ring(*b, p).size(), 1u);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
  EXPECT_EQ(b->stats().reserved_bytes, reserved);
  EXPECT_EQ(b->allocate(p, 64, 8), first) << "a cleared pool starts over in self";
  b->close_scope(p);
  EXPECT_EQ(b->free_count(1), free1 + nodes) << "destroy frees self too";
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
}

TEST(AprModel, ChildPoolsAreDestroyedWithTheirParent) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  Scope req = b->open_scope(ScopeKind::request, conn);
  Scope child = b->open_scope(ScopeKind::child, req);
  Scope grandchild = b->open_scope(ScopeKind::child, child);
  Scope sibling = b->open_scope(ScopeKind::child, req);
  for (Scope s : {conn, req, child, grandchild, sibling}) ASSERT_NE(b->allocate(s, 100, 8), nullptr);
  ASSERT_NE(b->allocate(child, 9000, 8), nullptr);  // a second node in child
  EXPECT_EQ(b->stats().in_use_bytes, 5 * 100u + 9000u);
  auto reserved = b->stats().reserved_bytes;
  b->close_scope(req);  // req, child, grandchild, sibling: 5 nodes
  EXPECT_EQ(b->stats().in_use_bytes, 100u);
  EXPECT_EQ(b->free_count(1), 4u);
  EXPECT_EQ(b->free_count(2), 1u);
  EXPECT_EQ(b->stats().reserved_bytes, reserved);
  // Clearing destroys children too.
  Scope again = b->open_scope(ScopeKind::request, conn);
  ASSERT_NE(b->allocate(b->open_scope(ScopeKind::child, again), 50, 8), nullptr);
  b->clear_scope(conn);
  EXPECT_EQ(b->stats().in_use_bytes, 0u);
  EXPECT_EQ(b->free_count(1), 4u);  // two taken, two returned
  b->close_scope(conn);
  EXPECT_EQ(b->free_count(1), 5u);
}

TEST(AprModel, ConnectionScopesHangUnderOneGlobalPool) {
  auto b = make();
  EXPECT_EQ(b->stats().reserved_bytes, 0u);
  Scope c1 = b->open_scope(ScopeKind::connection, nullptr);
  Scope c2 = b->open_scope(ScopeKind::connection, nullptr);
  ASSERT_NE(b->global_scope(), nullptr);
  EXPECT_EQ(c1->parent, b->global_scope());
  EXPECT_EQ(c2->parent, b->global_scope());
  EXPECT_EQ(b->stats().reserved_bytes, 3 * 8192u);
  b->close_scope(c1);
  b->close_scope(c2);
  EXPECT_EQ(b->free_count(1), 2u);
}

// --- contract ------------------------------------------------------------------

TEST(AprModel, UnscopedAllocationsFallThrough) {
  auto b = make();
  void* p = b->allocate(100, 8);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(b->stats().fallthrough_allocations, 1u);
  EXPECT_EQ(b->stats().reserved_bytes, 100u);
  b->deallocate(p, 100, 8);
  EXPECT_EQ(b->stats().reserved_bytes, 0u);
}

TEST(AprModel, ImpossibleRequestsInAScopeAreCountedFailures) {
  auto b = make();
  Scope conn = b->open_scope(ScopeKind::connection, nullptr);
  auto reserved = b->stats().reserved_bytes;
  EXPECT_EQ(b->allocate(conn, std::size_t{1} << 46, 8), nullptr);  // node index > 2^32
  EXPECT_EQ(b->allocate(conn, ~std::size_t{0} - 3, 8), nullptr);   // overflows rounding
  EXPECT_EQ(b->stats().failed_allocations, 2u);
  EXPECT_EQ(b->stats().reserved_bytes, reserved);
  void* p = b->allocate(conn, 100, 4096);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, 0u);
}

TEST(AprModel, Conformance) {
  conformance::run_conformance([] { return std::make_unique<AprBackend>(); });
}

TEST(AprModel, ConformanceWithHttpdMaxMemFree) {
  // httpd's MaxMemFree default, 2048 KB (http-workload-facts.md).
  conformance::run_conformance([] { return make("max_free=2048k"); });
}

TEST(AprModel, ConformanceWithApr17SearchTinyMaxFreeAndMmap) {
  conformance::run_conformance([] { return make("search_2x=false,max_free=8k,mmap=true"); });
}

}  // namespace
}  // namespace alloclab
