#include <gtest/gtest.h>

#include "workloads/trace_binary.hpp"
#include "workloads/trace_builder.hpp"
#include "workloads/trace_text.hpp"

using namespace alloclab::trace;

TEST(TraceFormat, Compiles) {
  TraceBuilder b(2);
  auto c = b.open(0, ScopeKind::connection);
  auto r = b.open(0, ScopeKind::request, c);
  auto s = b.alloc(0, 64, r);
  (void)s;
  auto u = b.alloc(0, 100);
  b.close(0, r);
  b.close(0, c);
  b.free(1, u);
  Trace t = b.finish("{\"model\":\"test\"}");
  auto bytes = encode(t);
  Trace back = decode(bytes);
  EXPECT_EQ(back, t);
  EXPECT_EQ(from_text(to_text(t)), t);
}
