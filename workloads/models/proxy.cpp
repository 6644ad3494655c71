// proxy: one I/O thread (thread 0) owns every client connection and runs
// nginx's front (nginx_front.hpp) and the upstream side of a reverse proxy;
// it copies each request and each piece of the upstream response into a
// malloc'd buffer and queues it to a pool of worker threads, which free
// the buffers once they have processed them. Memory flows one way, from
// thread 0 to the workers: the producer/consumer pattern (xmalloc-test,
// http-workload-facts.md) that is hardest for thread caches. With one
// thread, thread 0 is its own worker. Figures and sources:
// workloads/MODELS.md.
#include <algorithm>
#include <deque>

#include "workloads/models/event_loop.hpp"
#include "workloads/models/generators.hpp"
#include "workloads/models/model_common.hpp"

namespace alloclab::trace {
namespace {

constexpr std::uint32_t kUpstream = 1024;      // ngx_http_upstream_t
constexpr std::uint32_t kUpstreamHeaders = 8;  // u->headers_in.headers: ngx_list_init(..., 8, ...)
// Response buffers: 16 KiB, HAProxy's default tune.bufsize (chosen as the
// read size of the upstream side).
constexpr std::uint32_t kBuffer = 16384;
// Upstream response body: as http1-static's (median 10 KB, p95 100 KB:
// mean 26.7 KB per request, Web Almanac 2024).
constexpr double kBodyMedian = 10'000, kBodyP95 = 100'000;
constexpr std::uint32_t kBodyMax = 64u << 20;
// After each I/O step a worker takes jobs with this probability, up to
// kBatch at once (it drains the queue under one lock): chosen so that
// workers keep up (about 1.25 jobs per step against at most 1 produced)
// while a few jobs wait.
constexpr double kWorkerChance = 0.5;
constexpr std::uint32_t kBatch = 4;

struct Shared {
  http::HeadShapes shapes;
  http::Head head;
  std::deque<std::uint32_t> jobs;  // buffer slots, oldest first
};

class ProxyConn : public nginx::KeepaliveConn<ProxyConn, Shared> {
 public:
  using KeepaliveConn::KeepaliveConn;

 private:
  friend KeepaliveConn;

  // The client's head arrives; its bytes go to a worker to be sent
  // upstream.
  void start(TraceBuilder& b, Rng& rng) {
    std::uint32_t r = begin_request(b, rng, 3);
    b.alloc(0, kUpstream, r);                          // ngx_http_upstream_create
    b.alloc(0, kUpstreamHeaders * nginx::kTableElt, r);  // upstream headers_in list
    sh_->jobs.push_back(b.alloc(0, sh_->head.bytes));
    first_ = true;
  }

  // One read from upstream. The first carries the response head, whose
  // fields nginx copies into the request pool (ngx_http_proxy_process_header:
  // key, value and lowercase key in one allocation per field).
  void advance(TraceBuilder& b, Rng& rng) {
    if (first_) {
      sh_->shapes.response(rng, http::kResponseFields, sh_->head);
      for (const http::Field& f : sh_->head.fields) b.alloc(0, f.name + 1 + f.value + 1 + f.name, c_.request());
      left_bytes_ = sh_->head.bytes + rng.lognormal_size(kBodyMedian, kBodyP95, 1, kBodyMax);
      first_ = false;
    }
    std::uint32_t n = std::min(left_bytes_, kBuffer);
    sh_->jobs.push_back(b.alloc(0, n));
    left_bytes_ -= n;
    if (left_bytes_ == 0) request_done();
  }

  std::uint32_t left_bytes_ = 0;
  bool first_ = false;
};

// A worker takes up to `n` jobs and frees their buffers.
void consume(TraceBuilder& b, Shared& sh, std::uint32_t worker, std::uint32_t n) {
  for (; n > 0 && !sh.jobs.empty(); --n) {
    b.free(worker, sh.jobs.front());
    sh.jobs.pop_front();
  }
}

Trace generate(const ModelParams& p) {
  TraceBuilder b(p.threads);
  Rng rng(p.seed);
  Shared sh;
  std::uint32_t workers = p.threads - 1;
  std::uint32_t next = 0;
  auto worker = [&] { return workers == 0 ? 0 : 1 + next++ % workers; };
  LoopShape s{1, p.connections, p.requests};
  run_event_loops<ProxyConn>(
      b, rng, s, [&](std::uint32_t, std::uint32_t n) { return ProxyConn(b, sh, 0, n); }, [] { return 1.0; },
      [&](std::uint32_t) {
        if (!sh.jobs.empty() && rng.chance(kWorkerChance))
          consume(b, sh, worker(), static_cast<std::uint32_t>(rng.between(1, kBatch)));
      });
  while (!sh.jobs.empty()) consume(b, sh, worker(), kBatch);
  nlohmann::json params = {
      {"io_threads", 1},
      {"buffer", kBuffer},
      {"body_median", kBodyMedian},
      {"body_p95", kBodyP95},
      {"response_fields", http::kResponseFields},
      {"worker_chance", kWorkerChance},
      {"worker_batch", kBatch},
  };
  return b.finish(model_metadata("proxy", p, std::move(params)));
}

}  // namespace

extern const Model proxy_model;
const Model proxy_model = {
    "proxy",
    "an I/O thread allocates request and response buffers, worker threads free them",
    10'000,
    64,
    1,
    "",
    false,
    &generate,
};

}  // namespace alloclab::trace
