// scope-sweep: a claim experiment, not a server. Every request scope makes
// `n` allocations of `size` bytes and closes, so the cost per allocation and
// per close, read at several n (or sizes), tests the "O(1)" claims of
// seeds/000 ("Performance Characteristics": a scope allocates by bump and
// frees in bulk). A request runs inside a keep-alive connection scope of 16
// requests (chosen); threads each serve their share, nothing crosses.
//
// Options: n (allocations per request, 1..65536, default 64), size (bytes
// per allocation, 1..1 MiB, default 64). Requests default to as many as
// make 2^18 allocations (at least 16), so every point of a sweep times
// about the same number of ops.
#include <algorithm>

#include "workloads/models/generators.hpp"
#include "workloads/models/model_common.hpp"
#include "workloads/trace_builder.hpp"

namespace alloclab::trace {
namespace {

constexpr std::uint32_t kRequestsPerConnection16 = 16;  // chosen
constexpr std::uint64_t kAllocsPerSweepPoint = 1u << 18;   // chosen

Trace generate(const ModelParams& p) {
  const auto n = static_cast<std::uint32_t>(p.option("n", 64, 1, 65536));
  const auto size = static_cast<std::uint32_t>(p.option("size", 64, 1, 1u << 20));
  std::uint32_t requests = p.requests;
  if (requests == 0) requests = static_cast<std::uint32_t>(std::max<std::uint64_t>(16, kAllocsPerSweepPoint / n));
  TraceBuilder b(p.threads);
  for (std::uint32_t th = 0; th < p.threads; ++th) {
    std::uint32_t mine = requests / p.threads + (th < requests % p.threads ? 1 : 0);
    std::uint32_t conn = TraceBuilder::kNone;
    for (std::uint32_t r = 0; r < mine; ++r) {
      if (r % kRequestsPerConnection16 == 0) {
        if (conn != TraceBuilder::kNone) b.close(th, conn);
        conn = b.open(th, ScopeKind::connection);
      }
      std::uint32_t req = b.open(th, ScopeKind::request, conn);
      for (std::uint32_t i = 0; i < n; ++i) b.alloc(th, size, req);
      b.close(th, req);
    }
    if (conn != TraceBuilder::kNone) b.close(th, conn);
  }
  ModelParams shown = p;
  shown.requests = requests;
  return b.finish(model_metadata("scope-sweep", shown,
                                 {{"n", n}, {"size", size}, {"requests_per_connection", kRequestsPerConnection16}}));
}

}  // namespace

extern const Model scope_sweep_model;
const Model scope_sweep_model = {
    "scope-sweep",
    "claim experiment: request scopes of n allocations of size bytes each (options n, size)",
    0,  // as many requests as make 2^18 allocations
    1,
    1,
    "n, size",
    true,
    &generate,
};

}  // namespace alloclab::trace
