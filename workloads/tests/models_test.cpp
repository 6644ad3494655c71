// The workload models: deterministic, valid for every thread count, and
// shaped as workloads/MODELS.md documents (the figures asserted here are
// the ones listed there).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "workloads/models/http_shapes.hpp"
#include "workloads/models/model.hpp"
#include "workloads/trace_binary.hpp"
#include "workloads/trace_builder.hpp"
#include "workloads/trace_check.hpp"
#include "workloads/trace_info.hpp"

using namespace alloclab::trace;

namespace {

const std::vector<std::string> kNames = {"http1-static", "http-api", "http-upload", "proxy", "long-running"};

Trace make(const std::string& name, std::uint32_t requests, std::uint32_t connections, std::uint32_t threads,
           std::uint64_t seed = 1) {
  const Model* m = find_model(name);
  if (m == nullptr) throw std::runtime_error("no model " + name);
  ModelParams p;
  p.seed = seed;
  p.requests = requests;
  p.connections = connections;
  p.threads = threads;
  return generate(*m, p);
}

std::uint64_t stream_ops(const Trace& t, std::uint32_t th) { return t.threads[th].size(); }

}  // namespace

TEST(Models, RegistryListsTheFiveHttpModelsAndTheClaimExperiments) {
  std::vector<std::string> names, http;
  for (const auto& m : models()) {
    names.emplace_back(m.name);
    if (!m.experiment) http.emplace_back(m.name);
  }
  EXPECT_EQ(http, kNames);
  EXPECT_EQ(names.size(), kNames.size() + 3);
  EXPECT_EQ(model_names(),
            "http1-static, http-api, http-upload, proxy, long-running, scope-sweep, small-objects, idle-connections");
  EXPECT_EQ(find_model("nope"), nullptr);
  for (const auto& m : models()) {
    EXPECT_FALSE(m.description.empty()) << m.name;
    if (!m.experiment) EXPECT_GT(m.default_requests, 0u) << m.name;
    EXPECT_GT(m.default_connections, 0u) << m.name;
    EXPECT_EQ(m.min_threads, 1u) << m.name;
  }
}

TEST(WorkloadNames, ModelThenKeyValueOptions) {
  auto w = parse_workload_name("scope-sweep:n=64,size=16");
  EXPECT_EQ(w.model, "scope-sweep");
  EXPECT_EQ(w.options.at("n"), "64");
  EXPECT_EQ(w.options.at("size"), "16");
  EXPECT_TRUE(parse_workload_name("proxy").options.empty());
  for (const char* bad : {"proxy:", "proxy:n", "proxy:=3", "proxy:n=", "proxy:n=1,n=2", "proxy:n=1,"})
    EXPECT_THROW(parse_workload_name(bad), std::invalid_argument) << bad;
}

TEST(WorkloadNames, ScaleAndConnectionsGrowTheLiveHeapNotTheObjects) {
  const Model* m = find_model("http1-static");
  ModelParams p;
  p.requests = 2000;
  TraceInfo one = analyze(generate(*m, p));
  p.options = {{"scale", "8"}};
  TraceInfo eight = analyze(generate(*m, p));
  EXPECT_EQ(eight.scopes_by_kind[1], 8 * 2000u);
  EXPECT_GT(eight.peak_live_bytes, 4 * one.peak_live_bytes);
  EXPECT_NEAR(static_cast<double>(eight.alloc_size.p50), static_cast<double>(one.alloc_size.p50),
              0.2 * one.alloc_size.p50);
  p.options = {{"scale", "2"}, {"connections", "512"}};
  auto j = nlohmann::json::parse(generate(*m, p).metadata);
  EXPECT_EQ(j["connections"], 512);
  EXPECT_EQ(j["requests"], 4000);
  p.options = {{"n", "3"}};
  EXPECT_THROW(generate(*m, p), std::invalid_argument);  // http1-static has no option n
  p.options = {{"scale", "0"}};
  EXPECT_THROW(generate(*m, p), std::invalid_argument);
}

TEST(ScopeSweep, EveryRequestMakesNAllocationsOfSizeBytes) {
  const Model* m = find_model("scope-sweep");
  ModelParams p;
  p.options = {{"n", "1024"}, {"size", "48"}};
  TraceInfo i = analyze(generate(*m, p));
  EXPECT_EQ(i.scopes_by_kind[1], (1u << 18) / 1024);  // as many requests as make 2^18 allocations
  EXPECT_EQ(i.request_allocs.p50, 1024u);
  EXPECT_EQ(i.request_allocs.max, 1024u);
  EXPECT_EQ(i.alloc_size.p50, 48u);
  EXPECT_EQ(i.alloc_size.max, 48u);
  EXPECT_EQ(i.request_held_bytes.max, 1024u * 48);
  EXPECT_EQ(i.end_live_blocks, 0u);
  p.options = {{"n", "4"}};
  EXPECT_EQ(analyze(generate(*m, p)).scopes_by_kind[1], (1u << 18) / 4);
  p.options = {{"n", "0"}};
  EXPECT_THROW(generate(*m, p), std::invalid_argument);
  p.options = {{"color", "red"}};
  EXPECT_THROW(generate(*m, p), std::invalid_argument);
}

TEST(IdleConnections, EveryConnectionServesOneRequestThenAllAreIdleAtOnce) {
  const Model* m = find_model("idle-connections");
  ModelParams p;
  p.connections = 1000;
  TraceInfo i = analyze(generate(*m, p));
  EXPECT_EQ(i.scopes_by_kind[0], 1000u);
  EXPECT_EQ(i.scopes_by_kind[1], 1000u);
  EXPECT_EQ(i.end_live_blocks, 0u);
  // At the peak: every connection idle (its own objects, about 271 B) and one request.
  EXPECT_GT(i.peak_live_bytes, 1000u * 250);
  EXPECT_LT(i.peak_live_bytes, 1000u * 300 + 32768);
  EXPECT_EQ(i.peak_open_requests, 1u);
}

TEST(LongRunning, PacedTracesThinkTheirShareOfTheDay) {
  const Model* m = find_model("long-running");
  ModelParams p;
  p.requests = 2000;
  p.options = {{"days", "1"}, {"from", "12"}, {"day_seconds", "10"}};
  TraceInfo paced = analyze(generate(*m, p));
  EXPECT_EQ(paced.count(OpKind::think), 2000u);
  // One day at 10 s a day: the thinks add up to 10 s (within a request's share).
  EXPECT_NEAR(static_cast<double>(paced.think_ns) / 1e9, 10.0, 0.05);
  p.options = {};
  EXPECT_EQ(analyze(generate(*m, p)).count(OpKind::think), 0u);  // unpaced: no thinks
  p.options = {{"from", "24"}};
  EXPECT_THROW(generate(*m, p), std::invalid_argument);
}

TEST(SmallObjects, OnlySixteenTo256ByteObjectsAndNoScopes) {
  const Model* m = find_model("small-objects");
  ModelParams p;
  p.requests = 3000;
  p.threads = 2;
  TraceInfo i = analyze(generate(*m, p));
  EXPECT_GE(i.alloc_size.p50, 16u);
  EXPECT_LE(i.alloc_size.max, 256u);
  EXPECT_EQ(i.count(OpKind::alloc), 3000u * 24);
  EXPECT_EQ(i.scoped_allocs, 0u);
  EXPECT_EQ(i.end_live_blocks, 0u);
  EXPECT_EQ(i.cross_thread_frees, 0u);
  // Log-uniform over 16-256 B: the median near 64 B.
  EXPECT_GT(i.alloc_size.p50, 48u);
  EXPECT_LT(i.alloc_size.p50, 86u);
}

TEST(TraceInfo, HeldBytesAndIdleConnectionsFromTheLiveBytesNotTheLifetimeTotal) {
  TraceBuilder b(1);
  auto conn = b.open(0, ScopeKind::connection);
  b.alloc(0, 500, conn);  // the connection's own: held while idle
  for (int r = 0; r < 3; ++r) {
    auto req = b.open(0, ScopeKind::request, conn);
    auto big = b.alloc(0, 4000, req);
    b.free(0, big);  // freed inside the request: allocated 4000 + 1000, held at most 4000
    b.alloc(0, 1000, req);
    b.close(0, req);
  }
  b.close(0, conn);
  TraceInfo i = analyze(b.finish("{}"));
  EXPECT_EQ(i.request_bytes.p50, 5000u);
  EXPECT_EQ(i.request_held_bytes.p50, 4000u);
  // Idle twice: between requests 1 and 2, and 2 and 3 (not before the connection closes).
  EXPECT_EQ(i.idle_connection_bytes.count, 2u);
  EXPECT_EQ(i.idle_connection_bytes.p50, 500u);
}

class EachModel : public ::testing::TestWithParam<std::string> {};

TEST_P(EachModel, SameArgumentsGiveTheSameBytes) {
  auto a = encode(make(GetParam(), 300, 16, 2, 7));
  auto b = encode(make(GetParam(), 300, 16, 2, 7));
  EXPECT_EQ(a, b);
  auto c = encode(make(GetParam(), 300, 16, 2, 8));
  EXPECT_NE(a, c);
}

TEST_P(EachModel, PassesTheCheckerOnOneAndTwoThreads) {
  for (std::uint32_t threads : {1u, 2u}) {
    Trace t = make(GetParam(), 300, 16, threads);
    ASSERT_EQ(t.threads.size(), threads);
    for (std::uint32_t th = 0; th < threads; ++th) EXPECT_GT(stream_ops(t, th), 0u) << "thread " << th;
    Trace back;
    ASSERT_NO_THROW(back = decode(encode(t))) << GetParam() << " threads " << threads;
    EXPECT_EQ(back, t);
  }
}

TEST_P(EachModel, ServesExactlyTheRequestsOverKeepAliveConnections) {
  const std::uint32_t requests = 1000;
  Trace t = make(GetParam(), requests, 16, 2);
  TraceInfo i = analyze(t);
  EXPECT_EQ(i.scopes_by_kind[1], requests);
  // Requests per connection: geometric with mean 4 (http-workload-facts.md).
  double per_connection = static_cast<double>(requests) / i.scopes_by_kind[0];
  EXPECT_GT(per_connection, 3.4);
  EXPECT_LT(per_connection, 4.6);
  EXPECT_EQ(i.end_live_blocks, 0u);  // every pool destroyed, every buffer freed
}

TEST_P(EachModel, MetadataNamesTheModelAndItsArguments) {
  const Model* m = find_model(GetParam());
  ASSERT_NE(m, nullptr);
  ModelParams p;
  p.seed = 42;
  p.requests = 100;
  p.threads = 2;
  Trace t = generate(*m, p);
  auto j = nlohmann::json::parse(t.metadata);
  EXPECT_EQ(t.metadata.find('\n'), std::string::npos);
  EXPECT_EQ(j["model"], GetParam());
  EXPECT_EQ(j["seed"], 42);
  EXPECT_EQ(j["requests"], 100);
  EXPECT_EQ(j["connections"], m->default_connections);  // 0 means the default
  EXPECT_EQ(j["threads"], 2);
  ASSERT_TRUE(j["parameters"].is_object());
  EXPECT_EQ(j["parameters"]["requests_per_connection_mean"], 4);
}

TEST_P(EachModel, RejectsZeroThreads) {
  const Model* m = find_model(GetParam());
  ModelParams p;
  p.threads = 0;
  EXPECT_THROW(generate(*m, p), std::invalid_argument);
  p.threads = kMaxThreads + 1;
  EXPECT_THROW(generate(*m, p), std::invalid_argument);
}

// The defaults keep a trace quick to replay (200k to 1M ops), and
// generation runs at millions of ops per second (printed, not asserted).
TEST_P(EachModel, DefaultTraceSizeAndGenerationRate) {
  const Model* m = find_model(GetParam());
  auto start = std::chrono::steady_clock::now();
  Trace t = generate(*m, ModelParams{});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(t.op_count(), 200'000u);
  EXPECT_LE(t.op_count(), 1'000'000u);
  std::printf("%-13s default %8llu ops in %.3f s: %.1f M ops/s\n", std::string(m->name).c_str(),
              static_cast<unsigned long long>(t.op_count()), s, t.op_count() / s / 1e6);
}

INSTANTIATE_TEST_SUITE_P(All, EachModel, ::testing::ValuesIn(kNames),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(Models, SplitModelsNeedAConnectionPerThread) {
  for (const char* name : {"http1-static", "http-api", "http-upload", "long-running"})
    EXPECT_THROW(make(name, 10, 2, 3), std::invalid_argument) << name;
  EXPECT_NO_THROW(make("proxy", 10, 2, 3));  // one I/O thread holds every connection
}

TEST(Models, UnreasonableCountsAreRejected) {
  EXPECT_THROW(make("http1-static", 20'000'000, 4, 1), std::invalid_argument);
  EXPECT_THROW(make("http1-static", 10, 2'000'000, 1), std::invalid_argument);
}

// Request heads: the figures of http-workload-facts.md they are drawn from.
TEST(HeadShapes, RequestHeadsMatchThePublishedFigures) {
  Rng rng(3);
  http::HeadShapes shapes;
  http::Head h;
  const int n = 20000;
  double fields = 0, values = 0, target = 0;
  int large = 0;
  for (int i = 0; i < n; ++i) {
    shapes.request(rng, 3, h);
    fields += h.fields.size();
    values += h.value_bytes;
    target += h.target;
    large += h.bytes > 1024;
  }
  EXPECT_NEAR(fields / n, 7.65, 0.3);     // ~7 real fields
  EXPECT_NEAR(values / n, 430, 40);       // ~430 B of values
  EXPECT_NEAR(target / n, 77, 4);         // URL mean 77
  EXPECT_NEAR(large / double(n), 0.13, 0.03);  // heads past client_header_buffer_size
}

TEST(HeadShapes, ResponseHeadsHaveElevenFields) {
  Rng rng(4);
  http::HeadShapes shapes;
  http::Head h;
  shapes.response(rng, http::kResponseFields, h);
  EXPECT_EQ(h.fields.size(), 11u);
  std::uint32_t bytes = 17 + 2;  // status line, blank line
  for (const auto& f : h.fields) bytes += f.name + f.value + 4;
  EXPECT_EQ(h.bytes, bytes);
}

TEST(Http1Static, RequestsAllocateWhatNginxDoes) {
  Trace t = make("http1-static", 2000, 32, 1);
  TraceInfo i = analyze(t);
  EXPECT_EQ(i.unscoped_allocs, 0u);  // nginx takes everything from its pools
  EXPECT_EQ(i.scopes_by_kind[2], 0u);
  // 20 fixed allocations, a lowercase key per field (mean 7.65), the second
  // output buffer for a fifth of bodies, a decoded URI for a tenth.
  EXPECT_GT(i.request_allocs.mean, 27.5);
  EXPECT_LT(i.request_allocs.mean, 29.5);
  // Header buffers: 1 KiB per request, 8 KiB for the heads that need it,
  // freed individually when the connection goes idle.
  EXPECT_GE(i.count(OpKind::free), 2000u);
  EXPECT_GT(i.size_histogram.at(11), 2000u);  // [1024, 2048): header buffers, lists
}

TEST(HttpApi, JsonBodiesBecomeManySmallNodes) {
  const std::uint32_t requests = 400;
  Trace t = make("http-api", requests, 16, 1);
  TraceInfo i = analyze(t);
  EXPECT_EQ(i.scopes_by_kind[2], 2 * requests);  // a parse pool and a response pool per request
  EXPECT_EQ(i.unscoped_allocs, requests);        // the printed text
  EXPECT_GE(i.count(OpKind::realloc), requests);  // grown then shrunk to fit
  EXPECT_LE(i.alloc_size.p50, 64u);              // nodes and short strings
  EXPECT_GT(i.request_allocs.p50, 100u);
  EXPECT_GT(i.request_allocs.p99, 10 * i.request_allocs.p50);  // heavy-tailed bodies
}

TEST(HttpUpload, ChunksOf16KiBWithBoundedBuffering) {
  const std::uint32_t connections = 16;
  Trace t = make("http-upload", 200, connections, 2);
  TraceInfo i = analyze(t);
  std::uint64_t chunks = i.size_histogram.at(15);  // [16384, 32768)
  EXPECT_GT(chunks, i.alloc_size.count / 2);
  EXPECT_EQ(i.alloc_size.p50, 16384u);
  EXPECT_EQ(i.alloc_size.max, 16384u);
  EXPECT_GE(i.unscoped_allocs, chunks);
  // At most four chunks wait per connection, beside its pools (~20 KiB).
  EXPECT_LE(i.peak_live_bytes, connections * (4 * 16384 + 32768u));
}

TEST(Proxy, WorkersFreeWhatTheIoThreadAllocates) {
  Trace one = make("proxy", 1000, 32, 1);
  TraceInfo i1 = analyze(one);
  EXPECT_EQ(i1.cross_thread_frees, 0u);
  EXPECT_EQ(i1.edges, 0u);
  EXPECT_GT(i1.unscoped_allocs, 1000u);  // a request buffer and response buffers per request

  for (std::uint32_t threads : {2u, 4u}) {
    Trace t = make("proxy", 1000, 32, threads);
    Trace back;
    ASSERT_NO_THROW(back = decode(encode(t))) << threads;
    TraceInfo i = analyze(t);
    EXPECT_GT(i.cross_thread_frees, 0u);
    EXPECT_EQ(i.cross_thread_frees, i.unscoped_allocs);  // every buffer crosses
    EXPECT_GT(i.edges, 0u);
    EXPECT_EQ(i.scopes_by_kind[1], 1000u);
    for (std::uint32_t th = 1; th < threads; ++th) EXPECT_GT(stream_ops(t, th), 0u) << "worker " << th;
  }
}

namespace {

// Who allocates the proxy's buffers (the unscoped blocks) and who frees
// them.
struct BufferFlow : NoObserver {
  std::vector<std::uint64_t> allocs;       // per thread: buffers allocated
  std::uint64_t frees = 0, same_thread = 0;  // buffer frees; of them, on the allocating thread
  explicit BufferFlow(std::uint32_t threads) : allocs(threads, 0) {}
  void on_alloc(std::uint32_t th, const Op& op, const SlotState&, std::uint64_t) {
    if (op.c == kNoScope) ++allocs[th];
  }
  void on_free(std::uint32_t th, const Op& op, const SlotState& s, std::uint64_t) {
    if (op.kind != OpKind::free || s.scope != kNoScope) return;  // not a pool block freed early
    ++frees;
    same_thread += th == s.alloc_thread;
  }
  std::uint32_t producers() const {
    return static_cast<std::uint32_t>(std::count_if(allocs.begin(), allocs.end(), [](auto n) { return n > 0; }));
  }
};

BufferFlow buffer_flow(const Trace& t) {
  BufferFlow f(static_cast<std::uint32_t>(t.threads.size()));
  Walker w(t);
  w.run(f);
  return f;
}

Trace make_proxy(std::uint32_t threads, std::map<std::string, std::string> options, std::uint32_t requests = 2000) {
  ModelParams p;
  p.requests = requests;
  p.threads = threads;
  p.options = std::move(options);
  return generate(*find_model("proxy"), p);
}

}  // namespace

TEST(Proxy, SeveralIoThreadsByDefaultAndEveryBufferCrosses) {
  Trace t = make_proxy(8, {});
  ASSERT_NO_THROW(check(t));
  BufferFlow f = buffer_flow(t);
  EXPECT_GE(f.producers(), 2u);
  std::uint64_t buffers = 0;
  for (auto n : f.allocs) buffers += n;
  EXPECT_EQ(f.frees, buffers);  // every buffer freed
  EXPECT_EQ(f.same_thread, 0u);  // each on a thread other than its producer's
  EXPECT_EQ(analyze(t).cross_thread_frees, buffers);
  // Workers allocate nothing: memory flows one way.
  std::uint32_t workers = 0;
  for (std::uint32_t th = 0; th < 8; ++th)
    if (f.allocs[th] == 0) {
      ++workers;
      for (const Op& op : t.threads[th]) EXPECT_NE(op.kind, OpKind::alloc) << "worker " << th;
    }
  EXPECT_GE(workers, 1u);
  EXPECT_EQ(nlohmann::json::parse(t.metadata)["parameters"]["io_threads"], f.producers());
}

// No thread bounds a replay: with the default split every thread's op count
// is within 2x of the mean. And however the threads' speeds differ, an I/O
// thread has at most its window (32 buffers, 16 KiB at most) and what waits
// in its queue outstanding, so the peak a walk finds stays small.
TEST(Proxy, DefaultSplitBalancesTheThreadsOps) {
  for (std::uint32_t threads : {8u, 16u}) {
    Trace t = make_proxy(threads, {}, 500 * threads);
    double mean = static_cast<double>(t.op_count()) / threads;
    for (std::uint32_t th = 0; th < threads; ++th) {
      EXPECT_LE(stream_ops(t, th), 2 * mean) << threads << " threads, thread " << th;
      EXPECT_GE(stream_ops(t, th), mean / 2) << threads << " threads, thread " << th;
    }
    std::uint32_t io = nlohmann::json::parse(t.metadata)["parameters"]["io_threads"];
    EXPECT_LT(analyze(t).peak_live_bytes, io * 48 * 16384u) << threads << " threads";
  }
}

// producers=1: the one-I/O-thread variant, the model's only form before;
// its default 2-thread trace has the figures MODELS.md gives for it.
TEST(Proxy, OneProducerVariantHasOneThreadAllocateEveryBuffer) {
  Trace t = make_proxy(4, {{"producers", "1"}});
  ASSERT_NO_THROW(check(t));
  BufferFlow f = buffer_flow(t);
  EXPECT_EQ(f.producers(), 1u);
  EXPECT_GT(f.allocs[0], 2000u);
  EXPECT_EQ(f.same_thread, 0u);
  for (std::uint32_t th = 1; th < 4; ++th) EXPECT_GT(stream_ops(t, th), 0u) << "worker " << th;

  const Model* m = find_model("proxy");
  ModelParams p;
  p.threads = 2;
  p.options = {{"producers", "1"}};
  TraceInfo i = analyze(generate(*m, p));
  EXPECT_EQ(i.ops, 712'372u);
  EXPECT_EQ(i.cross_thread_frees, 32'084u);
  EXPECT_EQ(i.edges, 17'328u);
}

TEST(Proxy, BadProducerCountsAreRefusedByName) {
  EXPECT_NO_THROW(make_proxy(8, {{"producers", "7"}}, 200));
  EXPECT_NO_THROW(make_proxy(1, {{"producers", "1"}}, 200));
  // 0, more than the threads, all the threads (no worker left), not a number.
  for (const char* bad : {"0", "9", "8", "two", "-1", ""}) {
    try {
      make_proxy(8, {{"producers", bad}}, 200);
      ADD_FAILURE() << "producers=" << bad << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("option producers=") + bad + ":"), std::string::npos)
          << e.what();
    }
  }
  // Each I/O thread needs a connection of its own.
  ModelParams p;
  p.threads = 8;
  p.connections = 2;
  p.options = {{"producers", "3"}};
  EXPECT_THROW(generate(*find_model("proxy"), p), std::invalid_argument);
  p.options = {};
  EXPECT_NO_THROW(generate(*find_model("proxy"), p));  // the default takes what there is
}

namespace {

// Mean live bytes over each twentieth of the walk.
struct LiveSampler : NoObserver {
  const Walker* walker = nullptr;
  std::uint64_t every = 1, n = 0;
  long double sum = 0;
  std::vector<double> means;
  void tick() {
    sum += walker->live_bytes();
    if (++n % every == 0) {
      means.push_back(static_cast<double>(sum / every));
      sum = 0;
    }
  }
  void on_alloc(std::uint32_t, const Op&, const SlotState&, std::uint64_t) { tick(); }
  void on_free(std::uint32_t, const Op&, const SlotState&, std::uint64_t) { tick(); }
  void on_realloc(std::uint32_t, const Op&, std::uint32_t, const SlotState&) { tick(); }
  void on_open(std::uint32_t, const Op&, const ScopeState&) { tick(); }
  void on_close(std::uint32_t, const Op&, const ScopeState&) { tick(); }
  void on_other(std::uint32_t, const Op&) { tick(); }
};

}  // namespace

TEST(LongRunning, CacheEntriesAreUnscopedAndLiveBytesRiseAndFall) {
  for (std::uint64_t seed : {1, 2, 3}) {
    Trace t = make("long-running", 2000, 32, 2, seed);
    TraceInfo i = analyze(t);
    EXPECT_GT(i.unscoped_allocs, 0u);
    EXPECT_EQ(i.unscoped_allocs % 3, 0u);  // node, key, value per entry
    EXPECT_EQ(i.end_live_bytes, 0u);       // the cache is emptied at shutdown

    Walker w(t);
    LiveSampler s;
    s.walker = &w;
    s.every = t.op_count() / 20;
    w.run(s);
    ASSERT_GE(s.means.size(), 20u);
    auto max_of = [&](int a, int b) { return *std::max_element(s.means.begin() + a, s.means.begin() + b); };
    auto min_of = [&](int a, int b) { return *std::min_element(s.means.begin() + a, s.means.begin() + b); };
    // Two days starting at midnight: peaks in the first and last thirds,
    // the night between them in the middle fifth.
    double night = min_of(8, 12);
    EXPECT_GT(max_of(2, 8), 2 * night) << "seed " << seed;
    EXPECT_GT(max_of(12, 18), 2 * night) << "seed " << seed;
  }
}
