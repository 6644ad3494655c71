// proxy: a reverse proxy whose I/O threads (the producers) own the client
// connections and run nginx's front (nginx_front.hpp) and the upstream side;
// each copies every request and every piece of the upstream response into a
// malloc'd buffer and queues it to the worker threads (the consumers), which
// free the buffers once they have processed them and allocate nothing.
// Memory flows one way, from producers to consumers: the producer/consumer
// pattern (xmalloc-test, http-workload-facts.md) that is hardest for thread
// caches, and every buffer is a cross-thread free. Figures and sources:
// workloads/MODELS.md.
//
// Option producers=N: threads 0..N-1 are I/O threads, each with its own
// event loop and its share of the connections; threads N..T-1 are workers.
// The default balances the threads' op counts (see kThreadsPerWorker), so
// that no thread bounds a replay's throughput and a thread-scaling curve
// measures the allocator's cross-thread frees rather than one producer's
// speed. producers=1 is the one-I/O-thread variant (the model's only form
// before issue 14): its traces are byte-identical to that form's. With one
// thread, thread 0 is its own worker and nothing crosses.
#include <algorithm>
#include <deque>
#include <string>
#include <vector>

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
// After each step of an I/O thread a worker takes jobs from that thread's
// queue with this probability, up to kBatch at once (it drains the queue
// under one lock): chosen so that workers keep up (about 1.25 jobs per step
// against at most 1 produced) while a few jobs wait.
constexpr double kWorkerChance = 0.5;
constexpr std::uint32_t kBatch = 4;
// Default split, chosen to balance op counts: an I/O thread runs the whole
// front and the upstream side, about 66 ops per request (default trace,
// seed 1), while a worker spends about 5 (a free per buffer, 3.2 buffers
// per request, and the waits that order them). Threads carry equal ops when
// workers are 5 / (66 + 5) of them: one worker per 14 threads, rounded, at
// least one. The usual I/O-thread / worker-pool ratios of real servers
// (few I/O threads, many workers) do not fit here, because this model's
// workers do so little: one I/O thread per 4 threads leaves each I/O thread
// with 3.7 times the mean op count at 8 threads, and it bounds the run.
constexpr std::uint32_t kThreadsPerWorker = 14;

// With several I/O threads, each hands its workers at most kWindow buffers
// between acknowledgements: after every kWindow buffers it waits for the
// workers that freed any of its buffers since the last one (an edge from
// each). In the generator's timeline only a few jobs ever wait, but a
// replay runs each thread at its own speed, and workers that carry as many
// ops as the I/O threads may fall behind; without the window an I/O thread
// could then run ahead by any number of buffers, and live memory (and the
// trace's peak, `alloclab trace info`) would depend on the schedule. 32
// buffers (about 512 KiB of 16 KiB buffers per I/O thread) is chosen:
// far more than wait in the model, so it binds only when workers lag, as a
// bounded hand-off queue would. producers=1 keeps the model's first form
// exactly, without a window: there the workers carry about a thirteenth of
// the I/O thread's ops and keep up.
constexpr std::uint32_t kWindow = 32;

struct Shared {
  http::HeadShapes shapes;
  http::Head head;
  // Per I/O thread.
  std::vector<std::deque<std::uint32_t>> jobs;  // buffer slots, oldest first
  std::vector<std::uint32_t> unacked;           // buffers handed over since the last acknowledgement
  std::vector<std::vector<std::uint32_t>> freed_by;  // workers that freed its buffers since then, no repeats
  bool windowed = false;

  // I/O thread th queues buffer `slot`; every kWindow buffers it waits for
  // the workers that freed any of its buffers since the last time.
  void hand_over(TraceBuilder& b, std::uint32_t th, std::uint32_t slot) {
    jobs[th].push_back(slot);
    if (!windowed || ++unacked[th] < kWindow) return;
    for (std::uint32_t w : freed_by[th]) b.handoff(w, th);
    freed_by[th].clear();
    unacked[th] = 0;
  }
};

class ProxyConn : public nginx::KeepaliveConn<ProxyConn, Shared> {
 public:
  ProxyConn(TraceBuilder& b, Shared& sh, std::uint32_t th, std::uint32_t requests)
      : KeepaliveConn(b, sh, th, requests), th_(th) {}

 private:
  friend KeepaliveConn;

  // The client's head arrives; its bytes go to a worker to be sent
  // upstream.
  void start(TraceBuilder& b, Rng& rng) {
    std::uint32_t r = begin_request(b, rng, 3);
    b.alloc(th_, kUpstream, r);                            // ngx_http_upstream_create
    b.alloc(th_, kUpstreamHeaders * nginx::kTableElt, r);  // upstream headers_in list
    sh_->hand_over(b, th_, b.alloc(th_, sh_->head.bytes));
    first_ = true;
  }

  // One read from upstream. The first carries the response head, whose
  // fields nginx copies into the request pool (ngx_http_proxy_process_header:
  // key, value and lowercase key in one allocation per field).
  void advance(TraceBuilder& b, Rng& rng) {
    if (first_) {
      sh_->shapes.response(rng, http::kResponseFields, sh_->head);
      for (const http::Field& f : sh_->head.fields) b.alloc(th_, f.name + 1 + f.value + 1 + f.name, c_.request());
      left_bytes_ = sh_->head.bytes + rng.lognormal_size(kBodyMedian, kBodyP95, 1, kBodyMax);
      first_ = false;
    }
    std::uint32_t n = std::min(left_bytes_, kBuffer);
    sh_->hand_over(b, th_, b.alloc(th_, n));
    left_bytes_ -= n;
    if (left_bytes_ == 0) request_done();
  }

  std::uint32_t th_;  // the I/O thread that owns the connection
  std::uint32_t left_bytes_ = 0;
  bool first_ = false;
};

// A worker takes up to `n` jobs from I/O thread th's queue and frees their
// buffers.
void consume(TraceBuilder& b, Shared& sh, std::uint32_t th, std::uint32_t worker, std::uint32_t n) {
  auto& jobs = sh.jobs[th];
  if (jobs.empty() || n == 0) return;
  for (; n > 0 && !jobs.empty(); --n) {
    b.free(worker, jobs.front());
    jobs.pop_front();
  }
  auto& seen = sh.freed_by[th];
  if (sh.windowed && std::find(seen.begin(), seen.end(), worker) == seen.end()) seen.push_back(worker);
}

// The number of I/O threads: producers=N, or the balanced default; at most
// one per connection, and one thread is left to be the worker.
std::uint32_t io_threads(const ModelParams& p) {
  const std::uint32_t most = std::max(1u, p.threads - 1);
  const std::uint32_t workers = std::max(1u, (p.threads + kThreadsPerWorker / 2) / kThreadsPerWorker);
  const std::uint32_t fallback = std::min(p.connections, p.threads > 1 ? p.threads - workers : 1);
  const auto n = static_cast<std::uint32_t>(p.option("producers", fallback, 1, most));
  if (n > p.connections)
    throw std::invalid_argument("option producers=" + std::to_string(n) + ": each I/O thread needs a connection, and " +
                                "there are " + std::to_string(p.connections));
  return n;
}

Trace generate(const ModelParams& p) {
  const std::uint32_t producers = io_threads(p);
  TraceBuilder b(p.threads);
  Rng rng(p.seed);
  Shared sh;
  sh.jobs.resize(producers);
  sh.unacked.assign(producers, 0);
  sh.freed_by.resize(producers);
  sh.windowed = producers > 1;
  // Workers take turns over every I/O thread's queue, so each frees
  // buffers of all of them.
  const std::uint32_t workers = p.threads - producers;
  std::uint32_t next = 0;
  auto worker = [&] { return workers == 0 ? 0 : producers + next++ % workers; };
  LoopShape s{producers, p.connections, p.requests};
  run_event_loops<ProxyConn>(
      b, rng, s, [&](std::uint32_t th, std::uint32_t n) { return ProxyConn(b, sh, th, n); }, [] { return 1.0; },
      [&](std::uint32_t th) {
        if (!sh.jobs[th].empty() && rng.chance(kWorkerChance))
          consume(b, sh, th, worker(), static_cast<std::uint32_t>(rng.between(1, kBatch)));
      });
  for (std::uint32_t th = 0; th < producers; ++th)
    while (!sh.jobs[th].empty()) consume(b, sh, th, worker(), kBatch);
  nlohmann::json params = {
      {"io_threads", producers},
      {"buffer", kBuffer},
      {"body_median", kBodyMedian},
      {"body_p95", kBodyP95},
      {"response_fields", http::kResponseFields},
      {"worker_chance", kWorkerChance},
      {"worker_batch", kBatch},
  };
  if (sh.windowed) params["window"] = kWindow;
  return b.finish(model_metadata("proxy", p, std::move(params)));
}

}  // namespace

extern const Model proxy_model;
const Model proxy_model = {
    "proxy",
    "I/O threads allocate request and response buffers, worker threads free them (option producers: I/O threads)",
    10'000,
    64,
    1,
    "producers",
    false,
    &generate,
};

}  // namespace alloclab::trace
