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
//   open=K (default 1): K requests open at once on a connection (as HTTP/2
//   streams are), each making its n allocations, then all K close: the
//   memory a scope holds beyond its bytes, read at the peak, is per scope.
//   big_every=K (default 0, none) and big=SIZE (default 1 MiB): every K-th
//   request also makes one allocation of `big` bytes, to exceed a
//   per-request memory limit (seeds/003: such a request fails alone).
#include <algorithm>
#include <vector>

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
  const auto open = static_cast<std::uint32_t>(p.option("open", 1, 1, 65536));
  const auto big_every = static_cast<std::uint32_t>(p.option("big_every", 0, 0, 1u << 20));
  const auto big = static_cast<std::uint32_t>(p.option("big", 1u << 20, 1, 1u << 30));
  std::uint32_t requests = p.requests;
  if (requests == 0) requests = static_cast<std::uint32_t>(std::max<std::uint64_t>(16, kAllocsPerSweepPoint / n));
  TraceBuilder b(p.threads);
  std::vector<std::uint32_t> reqs;
  std::uint32_t served = 0;  // over all threads: every big_every-th is big
  for (std::uint32_t th = 0; th < p.threads; ++th) {
    std::uint32_t mine = requests / p.threads + (th < requests % p.threads ? 1 : 0);
    std::uint32_t conn = TraceBuilder::kNone, on_conn = 0;
    for (std::uint32_t r = 0; r < mine;) {
      if (conn == TraceBuilder::kNone || on_conn >= kRequestsPerConnection16 * open) {
        if (conn != TraceBuilder::kNone) b.close(th, conn);
        conn = b.open(th, ScopeKind::connection);
        on_conn = 0;
      }
      reqs.clear();
      for (std::uint32_t k = 0; k < open && r < mine; ++k, ++r) reqs.push_back(b.open(th, ScopeKind::request, conn));
      for (std::uint32_t req : reqs) {
        for (std::uint32_t i = 0; i < n; ++i) b.alloc(th, size, req);
        if (big_every && ++served % big_every == 0) b.alloc(th, big, req);
      }
      for (std::uint32_t req : reqs) b.close(th, req);
      on_conn += static_cast<std::uint32_t>(reqs.size());
    }
    if (conn != TraceBuilder::kNone) b.close(th, conn);
  }
  ModelParams shown = p;
  shown.requests = requests;
  return b.finish(model_metadata("scope-sweep", shown,
                                 {{"n", n}, {"size", size}, {"open", open}, {"big_every", big_every}, {"big", big},
                                  {"requests_per_connection", kRequestsPerConnection16 * open}}));
}

}  // namespace

extern const Model scope_sweep_model;
const Model scope_sweep_model = {
    "scope-sweep",
    "claim experiment: request scopes of n allocations of size bytes each (options n, size)",
    0,  // as many requests as make 2^18 allocations
    1,
    1,
    "n, size, open, big_every, big",
    true,
    &generate,
};

}  // namespace alloclab::trace
