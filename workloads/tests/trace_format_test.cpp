// The trace format: exact round trips through both forms, the rules of
// trace.hpp enforced with the op's position named, and the builder's
// guarantee that what it makes is valid.
#include <gtest/gtest.h>

#include <cstring>

#include "workloads/trace_binary.hpp"
#include "workloads/trace_builder.hpp"
#include "workloads/trace_info.hpp"
#include "workloads/trace_text.hpp"

using namespace alloclab::trace;

namespace {

// Two threads: a connection with two requests on thread 0, a buffer handed
// to thread 1 and freed there, a realloc, an aligned block, think time.
Trace sample() {
  TraceBuilder b(2);
  auto conn = b.open(0, ScopeKind::connection);
  auto hdr = b.alloc(0, 1024);
  for (int r = 0; r < 2; ++r) {
    auto req = b.open(0, ScopeKind::request, conn);
    b.alloc(0, 100, req);
    auto big = b.alloc(0, 5000, req, 64);
    b.free(0, big);
    auto sub = b.open(0, ScopeKind::child, req);
    b.alloc(0, 40, sub);
    b.close(0, sub);
    b.alloc(0, 200, req);
    b.close(0, req);
  }
  auto buf = b.alloc(0, 300);
  b.realloc(0, buf, 600);
  b.free(1, buf);  // crosses threads: the builder adds an edge
  b.think(1, 1500);
  b.free(0, hdr);
  b.close(0, conn);
  return b.finish(R"({"model":"sample"})");
}

std::string fault_of(const Trace& t) {
  try {
    check_binary(t);
  } catch (const TraceError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TraceFormat, BinaryRoundTripIsExact) {
  Trace t = sample();
  auto bytes = encode(t);
  Trace back = decode(bytes);
  EXPECT_EQ(back, t);
  EXPECT_EQ(encode(back), bytes);
  EXPECT_EQ(bytes.size(), kHeaderBytes + 2 * 8 + t.metadata.size() + t.op_count() * 16);
}

TEST(TraceFormat, TextRoundTripIsExact) {
  Trace t = sample();
  std::string text = to_text(t);
  Trace back = from_text(text);
  EXPECT_EQ(back, t);
  EXPECT_EQ(to_text(back), text);
  EXPECT_EQ(encode(back), encode(t));
  EXPECT_NE(text.find("alloc 2 5000 align=64 scope=1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("open 2 child parent=1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("think 1500\n"), std::string::npos) << text;
}

TEST(TraceFormat, BuilderReleasesScopesAndOrdersCrossThreadFrees) {
  Trace t = sample();
  TraceInfo info = analyze(t);
  EXPECT_EQ(info.threads, 2u);
  EXPECT_EQ(info.edges, 1u);
  EXPECT_EQ(info.cross_thread_frees, 1u);
  EXPECT_EQ(info.scopes_by_kind[0], 1u);
  EXPECT_EQ(info.scopes_by_kind[1], 2u);
  EXPECT_EQ(info.scopes_by_kind[2], 2u);
  EXPECT_EQ(info.max_scope_depth, 3u);
  // Per request: 100 + 5000 + 40 + 200 bytes in 4 allocs.
  EXPECT_EQ(info.request_bytes.p50, 5340u);
  EXPECT_EQ(info.request_allocs.max, 4u);
  // 2 requests x 3 blocks left live at their closes, +1 child block each.
  EXPECT_EQ(info.count(OpKind::release), 6u);
  EXPECT_EQ(info.count(OpKind::free), 4u);
  EXPECT_EQ(info.end_live_blocks, 0u);
  EXPECT_EQ(info.aligned_allocs, 2u);
  EXPECT_EQ(info.think_ns, 1500u);
  // Peak: header 1024 + 100 + 5000 + ... the 5000 B block is freed before the child's 40.
  EXPECT_EQ(info.peak_live_bytes, 1024u + 100 + 5000);
  EXPECT_EQ(info.unscoped_allocs, 2u);
}

TEST(TraceFormat, FaultsNameTheOpsByteOffset) {
  Trace t = sample();
  std::uint64_t base = kHeaderBytes + 2 * 8 + t.metadata.size();
  // Double free: turn the last op of thread 1 (free of the handed buffer) into a second free.
  Trace bad = t;
  bad.threads[1].push_back(bad.threads[1][1]);
  EXPECT_EQ(fault_of(bad), "byte " + std::to_string(base + (t.threads[0].size() + 3) * 16) +
                               ": free of slot " + std::to_string(bad.threads[1][1].a) + ", which is already freed");
  // The free without its wait: nothing orders it after the realloc on thread 0.
  Trace racy = t;
  racy.threads[1][0] = Op{OpKind::think, 0, 0, 0, 1, 0};
  racy.threads[1].insert(racy.threads[1].begin(), t.threads[0].size(), Op{OpKind::think, 0, 0, 0, 1, 0});
  EXPECT_NE(fault_of(racy).find("no edge orders that before this op on thread 1"), std::string::npos);
}

TEST(TraceFormat, TextErrorsNameTheLine) {
  auto err = [](const std::string& text) {
    try {
      from_text(text);
    } catch (const TraceError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string head = "alloclab-trace 1\nthreads 1 slots 2 scopes 0 edges 0\nmeta {}\n";
  EXPECT_EQ(err(head + "thread 0 ops 2\nalloc 0 8\nfree 1\n"), "line 6: free of slot 1, which was never allocated");
  EXPECT_EQ(err(head + "thread 0 ops 2\nalloc 0 8\nfrob 1\n"), "line 6: unknown op 'frob'");
  EXPECT_EQ(err(head + "thread 0 ops 2\nalloc 0 8 align=3\nfree 0\n"),
            "line 5: alignment 3 is not a power of two from 2 to 65536");
  EXPECT_EQ(err(head + "thread 0 ops 3\nalloc 0 8\nfree 0\n"), "line 4: thread 0 declares 3 ops, has 2");
  EXPECT_EQ(err("alloclab-trace 1\nthreads 1 slots 99999999 scopes 0 edges 0\nmeta {}\nthread 0 ops 0\n"),
            "line 2: slot, scope or edge count exceeds what 0 ops can use");
  EXPECT_EQ(err("hello"), "line 1: expected 'alloclab-trace 1'");
  EXPECT_EQ(err(head + "thread 0 ops 1\nalloc 0 99999999999\n"), "line 5: size 99999999999 is above the limit 4294967295");
  // Comments and blank lines are allowed.
  EXPECT_EQ(err(head + "# a comment\n\nthread 0 ops 2\nalloc 0 8\nfree 0\n"), "");
}

TEST(TraceFormat, DecodeNeverAllocatesWhatTheHeaderClaims) {
  // A header claiming 2^40 ops in a 100-byte file is refused before any
  // allocation (ASan would catch an attempt to allocate 16 TiB).
  Trace t = sample();
  auto bytes = encode(t);
  std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(bytes.data() + 32, &huge, 8);
  EXPECT_THROW(decode(bytes), TraceError);
}
