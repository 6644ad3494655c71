// small-objects: a claim experiment for "faster on small allocations"
// (seeds/001, tcmalloc vs jemalloc). Only sizes of 16-256 B, the range of
// HTTP header fields and parsed JSON nodes (http-workload-facts.md: header
// values mostly under 15 chars, cookies median 36 B, p99 287 B). Each
// request allocates 24 objects (about 7 request and 11 response header
// fields plus a few parsed values; chosen), sizes log-uniform in 16-256 B
// (chosen), and frees them in random order when it ends; one in 8 outlives
// its request in a per-connection cache of 16 entries (chosen), freeing the
// entry it replaces, so lifetimes mix as in a server. No scopes: the
// general allocators see plain malloc and free. Connections take turns at
// random on each thread's event loop; nothing crosses threads.
#include <cmath>
#include <vector>

#include "workloads/models/generators.hpp"
#include "workloads/models/model_common.hpp"
#include "workloads/trace_builder.hpp"

namespace alloclab::trace {
namespace {

constexpr std::uint32_t kObjectsPerRequest = 24;
constexpr std::uint32_t kMinSize = 16, kMaxSize = 256;
constexpr std::uint32_t kCacheEntries = 16;
constexpr double kCachedShare = 1.0 / 8;

std::uint32_t small_size(Rng& rng) {
  double lg = std::log2(kMinSize) + rng.uniform() * (std::log2(kMaxSize) - std::log2(kMinSize));
  return static_cast<std::uint32_t>(std::lround(std::exp2(lg)));
}

Trace generate(const ModelParams& p) {
  require_connection_per_thread(p);
  TraceBuilder b(p.threads);
  Rng rng(p.seed);
  struct Conn {
    std::vector<std::uint32_t> cache;
    std::uint32_t next = 0;
  };
  std::vector<std::vector<Conn>> conns(p.threads);
  for (std::uint32_t c = 0; c < p.connections; ++c) conns[c % p.threads].push_back({});
  std::vector<std::uint32_t> objs;
  for (std::uint32_t r = 0; r < p.requests; ++r) {
    std::uint32_t th = r % p.threads;
    Conn& c = conns[th][rng.between(0, conns[th].size() - 1)];
    objs.clear();
    for (std::uint32_t i = 0; i < kObjectsPerRequest; ++i) objs.push_back(b.alloc(th, small_size(rng)));
    for (std::size_t i = objs.size(); i > 1; --i) std::swap(objs[i - 1], objs[rng.between(0, i - 1)]);
    for (std::uint32_t slot : objs) {
      if (!rng.chance(kCachedShare)) {
        b.free(th, slot);
        continue;
      }
      if (c.cache.size() < kCacheEntries) {
        c.cache.push_back(slot);
      } else {
        b.free(th, c.cache[c.next]);
        c.cache[c.next] = slot;
        c.next = (c.next + 1) % kCacheEntries;
      }
    }
  }
  for (std::uint32_t th = 0; th < p.threads; ++th)
    for (auto& c : conns[th])
      for (std::uint32_t slot : c.cache) b.free(th, slot);
  return b.finish(model_metadata("small-objects", p,
                                 {{"objects_per_request", kObjectsPerRequest}, {"min_size", kMinSize},
                                  {"max_size", kMaxSize}, {"cache_entries", kCacheEntries},
                                  {"cached_share", kCachedShare}}));
}

}  // namespace

extern const Model small_objects_model;
const Model small_objects_model = {
    "small-objects",
    "claim experiment: only 16-256 B objects (header fields, JSON nodes), freed at request end or cached",
    20'000,
    64,
    1,
    "",
    true,
    &generate,
};

}  // namespace alloclab::trace
