// The h2o model's named semantics: the direct-malloc threshold, newest-chunk-
// only allocation, clear returning chunks to the recycler, recycler trimming,
// plus the conformance suite.
#include "allocators/strategies/h2o.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "allocators/tests/conformance.hpp"

namespace alloclab {
namespace {

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Whether p lies in the chunk whose first allocation, 16-byte aligned, is
// `first` (the chunk starts 16 bytes below it: the link word, then padding).
bool same_chunk(const void* first, const void* p) {
  std::uintptr_t chunk = addr(first) - 16;
  return addr(p) >= chunk && addr(p) < chunk + H2oBackend::kChunkSize;
}

TEST(H2o, DirectThresholdIs1022) {
  // (sizeof(bytes) - sizeof(next)) / 4 with a 4096-byte chunk.
  EXPECT_EQ(H2oBackend::kDirectThreshold, 1022u);
  H2oBackend b;
  auto s = b.open_scope(ScopeKind::request, nullptr);
  void* small = b.allocate(s, 1021, 8);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(b.direct_allocations(), 0u);
  EXPECT_EQ(b.upstream_chunk_allocations(), 1u);
  EXPECT_EQ(b.stats().fallthrough_allocations, 0u);

  void* direct = b.allocate(s, 1022, 8);
  ASSERT_NE(direct, nullptr);
  EXPECT_EQ(b.direct_allocations(), 1u);
  EXPECT_EQ(b.stats().fallthrough_allocations, 1u);
  EXPECT_EQ(b.upstream_chunk_allocations(), 1u) << "a direct block takes no chunk";
  EXPECT_FALSE(same_chunk(small, direct));
  // Held from upstream: one chunk, the direct block with its header, the pool.
  EXPECT_GE(b.stats().reserved_bytes, H2oBackend::kChunkSize + H2oBackend::kDirectHeader + 1022);
  EXPECT_EQ(b.stats().in_use_bytes, 1021u + 1022u);
  std::memset(direct, 1, 1022);

  b.close_scope(s);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
  EXPECT_EQ(b.recycled_chunks(), 1u);
}

TEST(H2o, OnlyTheNewestChunkIsTried) {
  H2oBackend b;
  auto s = b.open_scope(ScopeKind::request, nullptr);
  // Four 1008-byte blocks fill the first chunk to within 48 bytes
  // (16 + 4 * 1008 = 4048 of 4096).
  void* first = b.allocate(s, 1008, 16);
  ASSERT_NE(first, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(same_chunk(first, b.allocate(s, 1008, 16)));
  EXPECT_EQ(b.stats().spills, 0u);

  void* second = b.allocate(s, 1008, 16);  // does not fit: a new chunk
  ASSERT_NE(second, nullptr);
  EXPECT_FALSE(same_chunk(first, second));
  EXPECT_EQ(b.stats().spills, 1u);
  EXPECT_EQ(b.stats().wasted_bytes, 48u) << "the first chunk's tail is abandoned";

  // 32 bytes would fit in the first chunk's 48-byte tail, but only the
  // newest chunk is tried.
  void* small = b.allocate(s, 32, 16);
  ASSERT_NE(small, nullptr);
  EXPECT_FALSE(same_chunk(first, small));
  EXPECT_TRUE(same_chunk(second, small));
  EXPECT_EQ(addr(small), addr(second) + 1008);
  EXPECT_EQ(b.upstream_chunk_allocations(), 2u);
  b.close_scope(s);
}

TEST(H2o, ClearReturnsChunksToTheRecycler) {
  H2oBackend b;
  auto fill = [&b](H2oBackend::Scope s, int chunks) {
    for (int i = 0; i < chunks * 4; ++i) ASSERT_NE(b.allocate(s, 1000, 8), nullptr);
  };
  auto conn = b.open_scope(ScopeKind::connection, nullptr);
  auto req = b.open_scope(ScopeKind::request, conn);
  fill(req, 3);
  void* big = b.allocate(req, 5000, 8);  // a direct block: freed, not recycled
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(b.upstream_chunk_allocations(), 3u);
  auto reserved = b.stats().reserved_bytes;
  b.close_scope(req);
  EXPECT_EQ(b.recycled_chunks(), 3u);
  EXPECT_EQ(b.stats().reserved_bytes, reserved - (5000 + H2oBackend::kDirectHeader))
      << "chunks stay reserved in the recycler, the direct block is freed";

  // The next request's chunks all come from the recycler: no upstream call.
  auto req2 = b.open_scope(ScopeKind::request, conn);
  fill(req2, 3);
  EXPECT_EQ(b.upstream_chunk_allocations(), 3u);
  EXPECT_EQ(b.recycled_chunks(), 0u);
  // A fourth chunk has to come from upstream.
  fill(req2, 1);
  EXPECT_EQ(b.upstream_chunk_allocations(), 4u);
  // Closing the connection closes the request still open in it.
  b.close_scope(conn);
  EXPECT_EQ(b.recycled_chunks(), 4u);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(H2o, RecyclerIsLifo) {
  H2oBackend b;
  auto s = b.open_scope(ScopeKind::request, nullptr);
  void* p = b.allocate(s, 100, 8);
  b.close_scope(s);
  auto s2 = b.open_scope(ScopeKind::request, nullptr);
  EXPECT_EQ(b.allocate(s2, 100, 8), p) << "the chunk just cleared is reused first";
  b.close_scope(s2);
}

TEST(H2o, TrimHalvesIdleChunksEachPeriod) {
  H2oBackend b(BackendOptions::parse("trim_every=0"));
  auto s = b.open_scope(ScopeKind::request, nullptr);
  for (int i = 0; i < 8 * 4; ++i) ASSERT_NE(b.allocate(s, 1000, 8), nullptr);
  b.close_scope(s);
  ASSERT_EQ(b.recycled_chunks(), 8u);
  auto reserved = b.stats().reserved_bytes;

  // The watermark starts at 0: the first trim only starts the period.
  b.trim();
  EXPECT_EQ(b.recycled_chunks(), 8u);
  EXPECT_EQ(b.low_watermark(), 8u);
  // No traffic: half of the idle chunks (rounded up) go each period.
  b.trim();
  EXPECT_EQ(b.recycled_chunks(), 4u);
  EXPECT_EQ(b.stats().reserved_bytes, reserved - 4 * H2oBackend::kChunkSize);
  b.trim();
  EXPECT_EQ(b.recycled_chunks(), 2u);
  b.trim();
  EXPECT_EQ(b.recycled_chunks(), 1u);
  b.trim();
  EXPECT_EQ(b.recycled_chunks(), 0u) << "rounding up reaches zero without traffic";
}

TEST(H2o, TrimKeepsWhatTrafficNeeded) {
  H2oBackend b(BackendOptions::parse("trim_every=0"));
  auto use = [&b](int chunks) {
    auto s = b.open_scope(ScopeKind::request, nullptr);
    for (int i = 0; i < chunks * 4; ++i) ASSERT_NE(b.allocate(s, 1000, 8), nullptr);
    b.close_scope(s);
  };
  use(8);
  b.trim();  // watermark := 8
  use(6);    // the recycler dips to 2 idle chunks
  EXPECT_EQ(b.low_watermark(), 2u);
  EXPECT_EQ(b.recycled_chunks(), 8u);
  b.trim();  // frees ceil(2 / 2) = 1 of the chunks idle all period
  EXPECT_EQ(b.recycled_chunks(), 7u);
  EXPECT_EQ(b.low_watermark(), 7u);
}

TEST(H2o, TrimRunsEveryNClears) {
  H2oBackend b(BackendOptions::parse("trim_every=2"));
  auto s = b.open_scope(ScopeKind::request, nullptr);
  for (int i = 0; i < 4 * 4; ++i) ASSERT_NE(b.allocate(s, 1000, 8), nullptr);
  b.close_scope(s);  // clear 1
  EXPECT_EQ(b.recycled_chunks(), 4u);
  b.close_scope(b.open_scope(ScopeKind::request, nullptr));  // clear 2: trim starts the period
  EXPECT_EQ(b.recycled_chunks(), 4u);
  b.close_scope(b.open_scope(ScopeKind::request, nullptr));
  b.close_scope(b.open_scope(ScopeKind::request, nullptr));  // clear 4: trim halves
  EXPECT_EQ(b.recycled_chunks(), 2u);
}

TEST(H2o, MaxCapsTheRecycler) {
  H2oBackend b(BackendOptions::parse("max=2"));
  auto s = b.open_scope(ScopeKind::request, nullptr);
  for (int i = 0; i < 5 * 4; ++i) ASSERT_NE(b.allocate(s, 1000, 8), nullptr);
  b.close_scope(s);
  EXPECT_EQ(b.recycled_chunks(), 2u);
}

TEST(H2o, ReleaseToOsEmptiesTheRecycler) {
  H2oBackend b;
  auto s = b.open_scope(ScopeKind::request, nullptr);
  for (int i = 0; i < 12; ++i) ASSERT_NE(b.allocate(s, 1000, 8), nullptr);
  b.close_scope(s);
  EXPECT_GT(b.stats().reserved_bytes, 0u);
  b.release_to_os();
  EXPECT_EQ(b.recycled_chunks(), 0u);
  EXPECT_EQ(b.stats().reserved_bytes, 0u);
}

TEST(H2o, OveralignedRequestsAreServed) {
  H2oBackend b;
  auto s = b.open_scope(ScopeKind::request, nullptr);
  for (std::size_t align : {32u, 256u, 2048u, 4096u}) {
    void* p = b.allocate(s, 40, align);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(addr(p) % align, 0u) << align;
    std::memset(p, 7, 40);
  }
  b.close_scope(s);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(H2o, UnscopedFallsThrough) {
  H2oBackend b;
  void* p = b.allocate(64, 8);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(b.stats().fallthrough_allocations, 1u);
  b.deallocate(p, 64, 8);
  EXPECT_EQ(b.stats().in_use_bytes, 0u);
}

TEST(H2o, HugeScopedRequestFailsCounted) {
  H2oBackend b;
  auto s = b.open_scope(ScopeKind::request, nullptr);
  EXPECT_EQ(b.allocate(s, std::size_t{1} << 46, 8), nullptr);
  EXPECT_EQ(b.stats().failed_allocations, 1u);
  b.close_scope(s);
}

TEST(H2o, Conformance) {
  conformance::run_conformance([] { return std::make_unique<H2oBackend>(); });
}

TEST(H2o, ConformanceWithTightRecycler) {
  conformance::run_conformance(
      [] { return std::make_unique<H2oBackend>(BackendOptions::parse("max=1,trim_every=1")); });
}

}  // namespace
}  // namespace alloclab
