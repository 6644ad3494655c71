// The nginx pool model: the ngx_palloc rules it names (failed counter, equal
// block sizes, small/large threshold, large-node reuse, pfree, cleanups,
// reset versus destroy, nesting), its statistics, and the contract.
#include "allocators/strategies/nginx.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "allocators/tests/conformance.hpp"

namespace alloclab {
namespace {

using Scope = NginxBackend::Scope;

constexpr std::size_t kHeader = 80;       // ngx_pool_t on 64-bit
constexpr std::size_t kBlockHeader = 32;  // ngx_pool_data_t
constexpr std::size_t kNode = 16;         // ngx_pool_large_t
const std::size_t kRoot = NginxBackend::root_link_bytes();

BackendOptions opts(const char* text) { return BackendOptions::parse(text); }

bool inside(const void* p, const void* block, std::size_t size) {
  auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(block);
  return a >= b && a < b + size;
}

TEST(Nginx, HeaderSizesAndDefaults) {
  EXPECT_EQ(NginxBackend::pool_header_bytes(), kHeader);
  EXPECT_EQ(NginxBackend::block_header_bytes(), kBlockHeader);
  EXPECT_EQ(NginxBackend::large_node_bytes(), kNode);
  EXPECT_EQ(NginxBackend::cleanup_node_bytes(), 24u);
  NginxBackend b;
  EXPECT_EQ(b.pool_size(ScopeKind::connection), 512u);
  EXPECT_EQ(b.pool_size(ScopeKind::request), 4096u);
  EXPECT_EQ(b.pool_size(ScopeKind::child), 4096u);
}

TEST(Nginx, RejectsPoolSizesNginxRejects) {
  EXPECT_THROW(NginxBackend(opts("request_pool_size=96")), std::invalid_argument);
  EXPECT_THROW(NginxBackend(opts("connection_pool_size=520")), std::invalid_argument);
  EXPECT_NO_THROW(NginxBackend(opts("connection_pool_size=112,child_pool_size=16k")));
}

// After the sixth time a block is charged a miss (a new block appended while
// it lies between current and the newest block), current moves past it.
TEST(Nginx, FailedCounterMovesCurrentAfterSixthMiss) {
  NginxBackend b;
  Scope s = b.open_scope(ScopeKind::request, nullptr);
  // 4000 fits once in the first block (4016 free) and once in a later one
  // (4064 free), so every further request appends a block.
  auto alloc = [&] { ASSERT_NE(b.allocate(s, 4000, 8), nullptr); };
  alloc();  // block 0
  alloc();  // block 1; nothing charged (block 0 was the newest)
  EXPECT_EQ(b.blocks(s).size(), 2u);
  EXPECT_EQ(b.blocks(s)[0].failed, 0u);
  for (int k = 3; k <= 7; ++k) alloc();  // blocks 2..6; block 0 charged at each
  auto bl = b.blocks(s);
  ASSERT_EQ(bl.size(), 7u);
  EXPECT_EQ(bl[0].failed, 5u);
  EXPECT_EQ(bl[1].failed, 4u);
  EXPECT_EQ(b.current_block(s), 0u) << "five misses keep current";
  std::uint64_t wasted = b.stats().wasted_bytes;
  alloc();  // block 7: block 0's sixth miss
  bl = b.blocks(s);
  ASSERT_EQ(bl.size(), 8u);
  EXPECT_EQ(bl[0].failed, 6u);
  EXPECT_EQ(bl[1].failed, 5u);
  EXPECT_EQ(b.current_block(s), 1u);
  EXPECT_EQ(b.stats().wasted_bytes, wasted + 16u) << "block 0's 16 free bytes abandoned";
  alloc();  // block 8: block 1's sixth miss; block 0 no longer charged
  bl = b.blocks(s);
  EXPECT_EQ(bl[0].failed, 6u);
  EXPECT_EQ(bl[1].failed, 6u);
  EXPECT_EQ(b.current_block(s), 2u);
  // Block 0 still has 16 free bytes, but small requests start at current.
  void* p = b.allocate(s, 8, 8);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(b.blocks(s)[0].free, 16u);
  b.close_scope(s);
}

// A request that fits a later block is served there: no block is appended
// and no miss is charged.
TEST(Nginx, MissServedByLaterBlockChargesNothing) {
  NginxBackend b;
  Scope s = b.open_scope(ScopeKind::request, nullptr);
  ASSERT_NE(b.allocate(s, 4000, 8), nullptr);
  ASSERT_NE(b.allocate(s, 100, 8), nullptr);  // appends block 1
  ASSERT_EQ(b.blocks(s).size(), 2u);
  for (int i = 0; i < 20; ++i) ASSERT_NE(b.allocate(s, 64, 8), nullptr);  // all into block 1
  auto bl = b.blocks(s);
  ASSERT_EQ(bl.size(), 2u);
  EXPECT_EQ(bl[0].failed, 0u);
  EXPECT_EQ(bl[0].free, 16u);
  EXPECT_EQ(bl[1].free, 4096 - kBlockHeader - 100 - 12 /*pad to 16*/ - 20 * 64);
  b.close_scope(s);
}

TEST(Nginx, NewBlocksAreTheFirstBlocksSize) {
  for (ScopeKind kind : {ScopeKind::connection, ScopeKind::request}) {
    NginxBackend b;
    Scope s = b.open_scope(kind, nullptr);
    std::size_t psize = b.pool_size(kind), max = b.max_small(s);
    for (int i = 0; i < 10; ++i) ASSERT_NE(b.allocate(s, max, 8), nullptr);
    auto bl = b.blocks(s);
    ASSERT_EQ(bl.size(), 10u);
    for (const auto& blk : bl) EXPECT_EQ(blk.size, psize);
    EXPECT_EQ(b.stats().reserved_bytes, 10 * psize + kRoot);
    EXPECT_EQ(b.stats().spills, 9u);
    // The request sits right after the 32-byte header of a later block.
    EXPECT_EQ(bl[1].free, psize - kBlockHeader - max);
    b.close_scope(s);
  }
}

// Requests up to min(pool size - 80, pagesize - 1) bump in the pool; one
// byte more goes to malloc with a 16-byte node from the pool.
TEST(Nginx, SmallLargeThreshold) {
  NginxBackend b(opts("child_pool_size=16k"));
  struct Case {
    ScopeKind kind;
    std::size_t max;
  };
  for (Case c : {Case{ScopeKind::connection, 512 - kHeader}, Case{ScopeKind::request, 4096 - kHeader},
                 Case{ScopeKind::child, 4095}}) {
    Scope s = b.open_scope(c.kind, nullptr);
    std::size_t psize = b.pool_size(c.kind);
    ASSERT_EQ(b.max_small(s), c.max);
    auto base = b.stats();
    void* small = b.allocate(s, c.max, 8);
    ASSERT_NE(small, nullptr);
    EXPECT_EQ(b.large_nodes(s), 0u);
    EXPECT_EQ(b.stats().reserved_bytes, base.reserved_bytes) << "served from the first block";
    EXPECT_EQ(b.blocks(s)[0].free, psize - kHeader - c.max);
    Scope t = b.open_scope(c.kind, nullptr);
    base = b.stats();
    void* large = b.allocate(t, c.max + 1, 8);
    ASSERT_NE(large, nullptr);
    EXPECT_EQ(b.large_nodes(t), 1u);
    EXPECT_EQ(b.stats().reserved_bytes, base.reserved_bytes + c.max + 1);
    EXPECT_EQ(b.blocks(t)[0].free, psize - kHeader - kNode) << "only the node is in the pool";
    EXPECT_FALSE(inside(large, t, psize));
    b.close_scope(t);
    b.close_scope(s);
  }
}

// ngx_palloc_large reuses an emptied node among the first five; an emptied
// node further down is not found and a new node comes from the pool.
TEST(Nginx, LargeSlotReuseScansFiveNodes) {
  NginxBackend b;
  Scope s = b.open_scope(ScopeKind::request, nullptr);
  std::vector<void*> big;
  for (int i = 0; i < 6; ++i) big.push_back(b.allocate(s, 5000 + i, 8));  // list: 5,4,3,2,1,0
  for (void* p : big) ASSERT_NE(p, nullptr);
  ASSERT_EQ(b.large_nodes(s), 6u);
  std::size_t free0 = b.blocks(s)[0].free;
  EXPECT_EQ(free0, 4096 - kHeader - 6 * kNode);

  b.deallocate(s, big[1], 5001, 8);  // fifth node from the head
  EXPECT_EQ(b.large_live(s), 5u);
  EXPECT_EQ(b.large_nodes(s), 6u);
  void* again = b.allocate(s, 6000, 8);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(b.large_nodes(s), 6u) << "emptied fifth node reused";
  EXPECT_EQ(b.blocks(s)[0].free, free0) << "no node taken from the pool";

  b.deallocate(s, big[0], 5000, 8);  // sixth node: beyond the scan
  void* more = b.allocate(s, 7000, 8);
  ASSERT_NE(more, nullptr);
  EXPECT_EQ(b.large_nodes(s), 7u) << "new node pushed";
  EXPECT_EQ(b.large_live(s), 6u);
  EXPECT_EQ(b.blocks(s)[0].free, free0 - kNode) << "the node came from the pool";

  // pfree finds a reused slot too.
  b.deallocate(s, again, 6000, 8);
  EXPECT_EQ(b.large_live(s), 5u);
  b.close_scope(s);
}

TEST(Nginx, PfreeFreesOnlyLargeBlocks) {
  NginxBackend b;
  Scope s = b.open_scope(ScopeKind::request, nullptr);
  auto* small = static_cast<char*>(b.allocate(s, 100, 8));
  ASSERT_NE(small, nullptr);
  std::memset(small, 0x5A, 100);
  auto before = b.stats();
  std::size_t free0 = b.blocks(s)[0].free;
  b.deallocate(s, small, 100, 8);
  EXPECT_EQ(b.stats().in_use_bytes, before.in_use_bytes) << "small pfree is a no-op";
  EXPECT_EQ(b.stats().reserved_bytes, before.reserved_bytes);
  EXPECT_EQ(b.blocks(s)[0].free, free0);
  EXPECT_EQ(small[99], 0x5A);

  void* large = b.allocate(s, 10000, 8);
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(b.stats().in_use_bytes, before.in_use_bytes + 10000);
  EXPECT_EQ(b.stats().reserved_bytes, before.reserved_bytes + 10000);
  b.deallocate(s, large, 10000, 8);
  EXPECT_EQ(b.stats().in_use_bytes, before.in_use_bytes);
  EXPECT_EQ(b.stats().reserved_bytes, before.reserved_bytes);
  EXPECT_EQ(b.large_nodes(s), 1u) << "the node stays, emptied";
  EXPECT_EQ(b.large_live(s), 0u);
  b.close_scope(s);
}

std::vector<int>* g_order = nullptr;
void record(void* data) { g_order->push_back(static_cast<int>(reinterpret_cast<std::intptr_t>(data))); }
void* tag(int i) { return reinterpret_cast<void*>(static_cast<std::intptr_t>(i)); }

TEST(Nginx, CleanupsRunLifoOnDestroy) {
  std::vector<int> order;
  g_order = &order;
  NginxBackend b;
  Scope s = b.open_scope(ScopeKind::request, nullptr);
  std::size_t free0 = b.blocks(s)[0].free;
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(b.add_cleanup(s, record, tag(i)));
  EXPECT_EQ(b.blocks(s)[0].free, free0 - 3 * 24) << "nodes come from the pool";
  EXPECT_TRUE(order.empty());
  b.close_scope(s);
  EXPECT_EQ(order, (std::vector<int>{3, 2, 1}));
}

// A child is destroyed with its parent, in the parent's LIFO cleanup order.
TEST(Nginx, ChildDestroyedWithParentInCleanupOrder) {
  std::vector<int> order;
  g_order = &order;
  NginxBackend b;
  auto base = b.stats();
  Scope conn = b.open_scope(ScopeKind::connection, nullptr);
  ASSERT_TRUE(b.add_cleanup(conn, record, tag(1)));
  Scope req = b.open_scope(ScopeKind::request, conn);
  ASSERT_TRUE(b.add_cleanup(req, record, tag(10)));
  ASSERT_NE(b.allocate(req, 9000, 8), nullptr);
  ASSERT_TRUE(b.add_cleanup(conn, record, tag(2)));
  b.close_scope(conn);
  EXPECT_EQ(order, (std::vector<int>{2, 10, 1}));
  EXPECT_EQ(b.stats().in_use_bytes, base.in_use_bytes);
  EXPECT_EQ(b.stats().reserved_bytes, base.reserved_bytes + kRoot) << "only the retained root link";
}

// A request closed early disarms its node; the next request reuses it, so
// a keep-alive connection does not grow per request.
TEST(Nginx, ClosedChildNodeReused) {
  NginxBackend b;
  Scope conn = b.open_scope(ScopeKind::connection, nullptr);
  Scope r1 = b.open_scope(ScopeKind::request, conn);
  std::size_t free0 = b.blocks(conn)[0].free;
  EXPECT_EQ(free0, 512 - kHeader - 24);
  b.close_scope(r1);
  for (int i = 0; i < 1000; ++i) {
    Scope r = b.open_scope(ScopeKind::request, conn);
    ASSERT_NE(b.allocate(r, 700, 8), nullptr);
    b.close_scope(r);
  }
  EXPECT_EQ(b.blocks(conn)[0].free, free0);
  EXPECT_EQ(b.blocks(conn).size(), 1u);
  b.close_scope(conn);
}

// Reset frees large blocks and rewinds every block (to 80 bytes past its
// start, later blocks included); destroy gives everything back.
TEST(Nginx, ResetKeepsBlocksDestroyFreesAll) {
  std::vector<int> order;
  g_order = &order;
  NginxBackend b;
  auto base = b.stats();
  Scope s = b.open_scope(ScopeKind::request, nullptr);
  for (int i = 0; i < 9; ++i) ASSERT_NE(b.allocate(s, 4000, 8), nullptr);
  ASSERT_NE(b.allocate(s, 20000, 8), nullptr);
  ASSERT_NE(b.allocate(s, 30000, 8), nullptr);
  ASSERT_TRUE(b.add_cleanup(s, record, tag(1)));
  ASSERT_EQ(b.blocks(s).size(), 9u);
  ASSERT_GT(b.current_block(s), 0u);
  EXPECT_EQ(b.stats().reserved_bytes, base.reserved_bytes + kRoot + 9 * 4096 + 50000);

  b.reset_scope(s);
  auto bl = b.blocks(s);
  ASSERT_EQ(bl.size(), 9u) << "blocks kept";
  for (const auto& blk : bl) {
    EXPECT_EQ(blk.free, 4096 - kHeader);
    EXPECT_EQ(blk.failed, 0u);
  }
  EXPECT_EQ(b.current_block(s), 0u);
  EXPECT_EQ(b.large_nodes(s), 0u);
  EXPECT_EQ(b.stats().reserved_bytes, base.reserved_bytes + kRoot + 9 * 4096) << "large blocks freed";
  EXPECT_EQ(b.stats().in_use_bytes, base.in_use_bytes);
  EXPECT_TRUE(order.empty()) << "reset runs no cleanup";

  // The kept blocks serve again without growing.
  for (int i = 0; i < 9; ++i) ASSERT_NE(b.allocate(s, 4000, 8), nullptr);
  EXPECT_EQ(b.blocks(s).size(), 9u);

  b.close_scope(s);
  EXPECT_TRUE(order.empty()) << "cleanups registered before a reset are dropped";
  EXPECT_EQ(b.stats().reserved_bytes, base.reserved_bytes + kRoot);
  EXPECT_EQ(b.stats().in_use_bytes, base.in_use_bytes);
  b.release_to_os();
  EXPECT_EQ(b.stats().reserved_bytes, base.reserved_bytes);
}

TEST(Nginx, ResetDestroysOpenChildren) {
  std::vector<int> order;
  g_order = &order;
  NginxBackend b;
  Scope conn = b.open_scope(ScopeKind::connection, nullptr);
  Scope req = b.open_scope(ScopeKind::request, conn);
  ASSERT_TRUE(b.add_cleanup(req, record, tag(7)));
  auto before = b.stats().reserved_bytes;
  b.reset_scope(conn);
  EXPECT_EQ(order, (std::vector<int>{7}));
  EXPECT_EQ(b.stats().reserved_bytes, before - 4096);
  b.close_scope(conn);
}

TEST(Nginx, StatsAccounting) {
  NginxBackend b;
  Scope s = b.open_scope(ScopeKind::request, nullptr);
  EXPECT_EQ(b.stats().reserved_bytes, 4096 + kRoot);
  ASSERT_NE(b.allocate(s, 100, 8), nullptr);
  ASSERT_NE(b.allocate(s, 0, 1), nullptr);
  ASSERT_NE(b.allocate(s, 5000, 8), nullptr);
  EXPECT_EQ(b.stats().in_use_bytes, 5100u);
  EXPECT_EQ(b.stats().reserved_bytes, 4096 + kRoot + 5000);
  void* u = b.allocate(64, 8);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(b.stats().fallthrough_allocations, 1u);
  EXPECT_EQ(b.stats().in_use_bytes, 5164u);
  b.deallocate(u, 64, 8);
  EXPECT_EQ(b.allocate(s, std::size_t{1} << 46, 8), nullptr);
  EXPECT_EQ(b.allocate(s, 64, std::size_t{1} << 46), nullptr);
  EXPECT_EQ(b.stats().failed_allocations, 2u);
  EXPECT_EQ(b.stats().rejections, 0u);
  EXPECT_EQ(b.stats().spills, 0u);
  b.close_scope(s);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
  EXPECT_EQ(b.stats().reserved_bytes, kRoot);
  b.release_to_os();
  EXPECT_EQ(b.stats().reserved_bytes, 0u);
}

// The contract's alignment (16 for sizes of 16 and up) where nginx gives 8;
// alignment beyond 16 takes the pmemalign path (a large block, new node).
TEST(Nginx, Alignment) {
  NginxBackend b;
  Scope s = b.open_scope(ScopeKind::request, nullptr);
  auto addr = [](void* p) { return reinterpret_cast<std::uintptr_t>(p); };
  void* a = b.allocate(s, 8, 8);
  void* c = b.allocate(s, 24, 8);
  void* d = b.allocate(s, 1, 1);
  void* e = b.allocate(s, 1, 1);
  EXPECT_EQ(addr(a) % 8, 0u);
  EXPECT_EQ(addr(c) % 16, 0u);
  EXPECT_EQ(addr(c), addr(a) + 16) << "8 bytes of padding to reach 16";
  EXPECT_EQ(addr(e), addr(d) + 8) << "NGX_ALIGNMENT for the smallest requests";
  EXPECT_EQ(b.large_nodes(s), 0u);
  void* f = b.allocate(s, 40, 64);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(addr(f) % 64, 0u);
  EXPECT_EQ(b.large_nodes(s), 1u);
  b.deallocate(s, f, 40, 64);
  EXPECT_EQ(b.large_live(s), 0u);
  b.close_scope(s);
}

TEST(Nginx, Conformance) {
  conformance::run_conformance([] { return std::make_unique<NginxBackend>(); });
}

TEST(Nginx, ConformanceSmallestPools) {
  conformance::run_conformance([] {
    return std::make_unique<NginxBackend>(
        BackendOptions::parse("connection_pool_size=112,request_pool_size=112,child_pool_size=112"));
  });
}

}  // namespace
}  // namespace alloclab
