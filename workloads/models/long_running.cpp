// long-running: a server over days. Requests (nginx's front,
// nginx_front.hpp) read through an in-process cache whose entries are
// malloc'd (unscoped: a strategy hands them to its base allocator) and
// expire after a TTL, freed by whichever thread's request notices first.
// Load follows the time of day: the arrival rate, and with it the number
// of concurrent connections (Little's law), follows a sinusoid between 10%
// and 100% of the peak, so live memory rises and falls and shows whether
// an allocator gives memory back. Time is virtual: each request advances
// the clock by one over the arrival rate, so --requests sets how many
// requests one trace compresses its days into. Figures and sources:
// workloads/MODELS.md.
//
// Options: days=N (default 2), from=H (the hour of day the trace starts at,
// default 0: midnight), day_seconds=S (default 0). With S > 0 the trace is
// paced: each arrival is preceded by a think op of its share of the day,
// S seconds a day, so a replay follows the load in real time compressed
// 86,400 / S times, and allocators' clock-driven policies (jemalloc's decay,
// mimalloc's purge delay) get the time to act. Unpaced, two days replay in
// milliseconds. "days=1,from=12,day_seconds=24" runs noon to noon in 24 s:
// the peak, the night trough 12 s later, the next peak.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <queue>

#include "workloads/models/event_loop.hpp"
#include "workloads/models/generators.hpp"
#include "workloads/models/model_common.hpp"

namespace alloclab::trace {
namespace {

// The trace spans two days by default; load(t) = 0.55 - 0.45 cos(2 pi t), t
// in days: 10% at midnight, 100% at noon (chosen: a 10:1 day/night ratio).
constexpr double kMeanLoad = 0.55, kSwing = 0.45;
// A request misses the cache and fills one entry with this probability
// (chosen).
constexpr double kMissShare = 0.3;
// Entry: a 64-byte node (hash chain, LRU links, expiry, key and value
// pointers: chosen), a copy of the key (the request-target and its
// terminator), and the value: a response body as http1-static's.
constexpr std::uint32_t kEntryNode = 64;
constexpr double kBodyMedian = 10'000, kBodyP95 = 100'000;
constexpr std::uint32_t kBodyMax = 64u << 20;
// TTL: log-normal, median 30 minutes, p95 6 hours, at most a day
// (chosen: Cache-Control max-age values of minutes to hours).
constexpr double kTtlMedian = 1.0 / 48, kTtlP95 = 0.25, kTtlMax = 1;
constexpr std::uint32_t kRoot = 13;  // as http1-static: the mapped path
constexpr std::uint32_t kOutputBuffer = 32768;
constexpr std::uint32_t kResponseHead = 256;  // as http1-static

struct Entry {
  double expires;
  std::uint64_t seq;  // insertion order breaks ties, so the order is the same everywhere
  std::uint32_t node, key, value;
  bool operator>(const Entry& o) const { return expires != o.expires ? expires > o.expires : seq > o.seq; }
};

struct Shared {
  Shared(std::uint32_t requests, double days, double from_days, double ns_per_day)
      : per_day(requests / (days * kMeanLoad)), ns_per_day(ns_per_day), now(from_days) {}

  double load() const { return kMeanLoad - kSwing * std::cos(2 * std::numbers::pi * now); }

  // A request arrives: the clock moves on and expired entries are freed.
  void tick(TraceBuilder& b, std::uint32_t th) {
    double dt = 1 / (per_day * load());
    if (ns_per_day > 0) b.think(th, static_cast<std::uint32_t>(std::min(dt * ns_per_day, 4e9)));
    now += dt;
    while (!cache.empty() && cache.top().expires <= now) {
      const Entry& e = cache.top();
      b.free(th, e.value);
      b.free(th, e.key);
      b.free(th, e.node);
      cache.pop();
    }
  }

  void insert(TraceBuilder& b, Rng& rng, std::uint32_t th, std::uint32_t key, std::uint32_t value) {
    double ttl = std::min(rng.lognormal(kTtlMedian, kTtlP95), kTtlMax);
    std::uint32_t node = b.alloc(th, kEntryNode);
    std::uint32_t k = b.alloc(th, key + 1);
    cache.push({now + ttl, seq++, node, k, b.alloc(th, value)});
  }

  http::HeadShapes shapes;
  http::Head head;
  double per_day;      // arrivals per day at 100% load
  double ns_per_day;   // pacing: think nanoseconds per virtual day (0: unpaced)
  double now;          // days
  std::uint64_t seq = 0;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> cache;  // soonest expiry on top
};

class CachedConn : public nginx::KeepaliveConn<CachedConn, Shared> {
 public:
  using KeepaliveConn::KeepaliveConn;

 private:
  friend KeepaliveConn;

  // The request looks its target up; a miss makes the body and caches it.
  // The response is sent from the entry (an ngx_buf_t pointing at it).
  void start(TraceBuilder& b, Rng& rng) {
    std::uint32_t th = c_.thread();
    sh_->tick(b, th);
    std::uint32_t r = begin_request(b, rng, 3);
    b.alloc(th, kRoot + sh_->head.target + 1, r);
    body_left_ = rng.lognormal_size(kBodyMedian, kBodyP95, 1, kBodyMax);
    if (rng.chance(kMissShare)) sh_->insert(b, rng, th, sh_->head.target, body_left_);
    b.alloc(th, nginx::kBuf, r);  // header filter: ngx_create_temp_buf
    b.alloc(th, kResponseHead, r);
    b.alloc(th, nginx::kChainLink, r);
    b.alloc(th, nginx::kBuf, r);  // the body's ngx_buf_t
    b.alloc(th, nginx::kChainLink, r);
    advance(b, rng);
  }

  // One output buffer's worth sent.
  void advance(TraceBuilder&, Rng&) {
    body_left_ -= std::min(body_left_, kOutputBuffer);
    if (body_left_ == 0) request_done();
  }

  std::uint32_t body_left_ = 0;
};

Trace generate(const ModelParams& p) {
  TraceBuilder b(p.threads);
  Rng rng(p.seed);
  const double days = static_cast<double>(p.option("days", 2, 1, 30));
  const double from = static_cast<double>(p.option("from", 0, 0, 23)) / 24;
  const double day_seconds = static_cast<double>(p.option("day_seconds", 0, 0, 3600));
  Shared sh(p.requests, days, from, day_seconds * 1e9);
  serve<CachedConn>(b, rng, p, sh, [&] { return sh.load(); });
  // Shutdown: the cache is emptied, so the trace ends with nothing live.
  while (!sh.cache.empty()) {
    const Entry& e = sh.cache.top();
    b.free(0, e.value);
    b.free(0, e.key);
    b.free(0, e.node);
    sh.cache.pop();
  }
  nlohmann::json params = {
      {"days", days},
      {"from_hour", from * 24},
      {"day_seconds", day_seconds},
      {"load_mean", kMeanLoad},
      {"load_swing", kSwing},
      {"miss_share", kMissShare},
      {"entry_node", kEntryNode},
      {"body_median", kBodyMedian},
      {"body_p95", kBodyP95},
      {"ttl_median_days", kTtlMedian},
      {"ttl_p95_days", kTtlP95},
      {"ttl_max_days", kTtlMax},
  };
  return b.finish(model_metadata("long-running", p, std::move(params)));
}

}  // namespace

extern const Model long_running_model;
const Model long_running_model = {
    "long-running",
    "requests over two virtual days of rising and falling load, with a TTL cache of malloc'd entries",
    10'000,
    128,
    1,
    "days, from, day_seconds",
    false,
    &generate,
};

}  // namespace alloclab::trace
