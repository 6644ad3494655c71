#include "workloads/trace_info.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>

#include "workloads/trace_check.hpp"

namespace alloclab::trace {

Summary summarize(std::vector<std::uint64_t> v) {
  Summary s;
  s.count = v.size();
  if (v.empty()) return s;
  long double total = 0;
  for (auto x : v) total += x;
  s.mean = static_cast<double>(total / v.size());
  auto rank = [&](double q) {
    // Nearest rank: the smallest value with at least q of the sample at or below it.
    std::size_t k = static_cast<std::size_t>(q * v.size());
    if (k >= v.size()) k = v.size() - 1;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  };
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

namespace {

struct InfoObserver {
  InfoObserver(TraceInfo& i, const Walker& w) : info(i), walker(w) {}

  TraceInfo& info;
  const Walker& walker;
  std::vector<std::uint64_t> sizes;
  std::vector<std::uint64_t> lifetimes;
  std::vector<std::uint64_t> request_bytes;   // per request scope id (sparse: indexed by scope)
  std::vector<std::uint64_t> request_allocs;
  std::vector<std::uint64_t> connection_bytes;  // per connection scope id: allocated in it, outside requests
  std::vector<std::uint32_t> depth;           // per scope
  // Bytes held (live) rather than allocated over a lifetime: per request
  // scope its live bytes now and at most; per connection scope its live
  // bytes outside requests and its open requests; a sample of a
  // connection's live bytes at the end of each idle period between two
  // requests (keep-alive: what an idle connection holds, after it freed
  // its request's buffers and before it allocates for the next).
  std::vector<std::uint64_t> held_now, held_peak, conn_live;
  std::vector<std::uint32_t> conn_open_requests;
  std::vector<std::uint8_t> conn_idle;  // per connection scope: no request open since its last one closed
  std::vector<std::uint64_t> idle_samples;
  // What one bump arena per request would serve: per request scope, every
  // allocation in it and every unscoped one its thread made while it was the
  // thread's current request and freed before it closed, each rounded up to
  // 16 B. The current request of a thread is the one of its last scoped op.
  std::vector<std::uint64_t> arena_bytes;
  std::vector<std::uint32_t> current_request;  // per thread: request id + 1
  std::vector<std::uint32_t> slot_request;     // per slot: the request an unscoped block is charged to (+1)
  static std::uint64_t arena_size(std::uint64_t bytes) { return (bytes + 15) & ~std::uint64_t{15}; }
  std::uint64_t live_blocks = 0;
  std::uint64_t open_requests = 0;

  void note_live() {
    info.peak_live_bytes = std::max(info.peak_live_bytes, walker.live_bytes());
    info.peak_live_blocks = std::max(info.peak_live_blocks, live_blocks);
  }
  void charge(std::uint32_t scope_plus1, std::uint64_t bytes, std::uint64_t allocs) {
    if (scope_plus1 == kNoScope) return;
    const ScopeState& sc = walker.scopes()[scope_plus1 - 1];
    std::uint32_t req = sc.request;
    if (req == kNoScope) {
      if (sc.kind == ScopeKind::connection) connection_bytes[scope_plus1 - 1] += bytes;
      return;
    }
    request_bytes[req - 1] += bytes;
    request_allocs[req - 1] += allocs;
  }

  void hold(std::uint32_t scope_plus1, std::int64_t delta) {
    if (scope_plus1 == kNoScope) return;
    const ScopeState& sc = walker.scopes()[scope_plus1 - 1];
    if (sc.request != kNoScope) {
      std::uint64_t& now = held_now[sc.request - 1];
      now = static_cast<std::uint64_t>(static_cast<std::int64_t>(now) + delta);
      held_peak[sc.request - 1] = std::max(held_peak[sc.request - 1], now);
    } else if (sc.kind == ScopeKind::connection) {
      if (delta > 0) idle_ends(scope_plus1);
      std::uint64_t& live = conn_live[scope_plus1 - 1];
      live = static_cast<std::uint64_t>(static_cast<std::int64_t>(live) + delta);
    }
  }
  // The connection's idle period (after a request, before it allocates
  // for the next one) ends: what it held is a sample.
  void idle_ends(std::uint32_t c) {
    if (!conn_idle[c - 1]) return;
    idle_samples.push_back(conn_live[c - 1]);
    conn_idle[c - 1] = 0;
  }
  std::uint32_t connection_of(const ScopeState& request) const {
    if (request.parent == kNoScope) return kNoScope;
    return walker.scopes()[request.parent - 1].kind == ScopeKind::connection ? request.parent : kNoScope;
  }

  void arena_alloc(std::uint32_t th, const Op& op, std::uint32_t scope_plus1) {
    if (scope_plus1 != kNoScope) {
      std::uint32_t req = walker.scopes()[scope_plus1 - 1].request;
      if (req == kNoScope) return;
      current_request[th] = req;
      arena_bytes[req - 1] += arena_size(op.b);
    } else if (op.a < slot_request.size()) {
      std::uint32_t req = current_request[th];
      slot_request[op.a] = req != kNoScope && walker.scopes()[req - 1].state == 1 ? req : kNoScope;
    }
  }

  void on_alloc(std::uint32_t th, const Op& op, const SlotState&, std::uint64_t) {
    arena_alloc(th, op, op.scoped() ? op.c : kNoScope);
    ++live_blocks;
    sizes.push_back(op.b);
    std::size_t bucket = op.b == 0 ? 0 : std::bit_width(op.b);
    if (info.size_histogram.size() <= bucket) info.size_histogram.resize(bucket + 1, 0);
    ++info.size_histogram[bucket];
    info.bytes_allocated += op.b;
    info.aligned_allocs += op.align_log2 != 0;
    if (op.scoped()) {
      ++info.scoped_allocs;
      charge(op.c, op.b, 1);
      hold(op.c, static_cast<std::int64_t>(op.b));
    } else {
      ++info.unscoped_allocs;
    }
    note_live();
  }
  void on_free(std::uint32_t th, const Op& op, const SlotState& s, std::uint64_t tick) {
    if (s.scope == kNoScope && op.a < slot_request.size()) {
      std::uint32_t req = slot_request[op.a];
      if (req != kNoScope && walker.scopes()[req - 1].state == 1) arena_bytes[req - 1] += arena_size(s.size);
      slot_request[op.a] = kNoScope;
    }
    --live_blocks;
    hold(s.scope, -static_cast<std::int64_t>(s.size));
    lifetimes.push_back(tick - s.alloc_tick);
    info.cross_thread_frees += th != s.alloc_thread;
  }
  void on_realloc(std::uint32_t th, const Op& op, std::uint32_t old_size, const SlotState& s) {
    if (s.scope != kNoScope) arena_alloc(th, op, s.scope);  // an arena copies into a new block
    info.bytes_allocated += op.b;
    charge(s.scope, op.b, 0);
    hold(s.scope, static_cast<std::int64_t>(op.b) - static_cast<std::int64_t>(old_size));
    note_live();
  }
  void on_open(std::uint32_t th, const Op& op, const ScopeState& sc) {
    if (sc.kind == ScopeKind::request) current_request[th] = op.a + 1;
    ++info.scopes_by_kind[op.aux];
    std::uint32_t d = sc.parent == kNoScope ? 1 : depth[sc.parent - 1] + 1;
    depth[op.a] = d;
    info.max_scope_depth = std::max(info.max_scope_depth, d);
    if (sc.kind == ScopeKind::request) {
      info.peak_open_requests = std::max(info.peak_open_requests, ++open_requests);
      if (auto c = connection_of(sc); c != kNoScope) {
        idle_ends(c);
        ++conn_open_requests[c - 1];
      }
    }
  }
  void on_close(std::uint32_t, const Op&, const ScopeState& sc) {
    if (sc.kind != ScopeKind::request) return;
    --open_requests;
    if (auto c = connection_of(sc); c != kNoScope && --conn_open_requests[c - 1] == 0) conn_idle[c - 1] = 1;
  }
  void on_other(std::uint32_t, const Op& op) {
    if (op.kind == OpKind::think) info.think_ns += op.b;
  }
};

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

nlohmann::json summary_json(const Summary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}};
}

}  // namespace

TraceInfo analyze(const Trace& t) {
  TraceInfo info;
  info.threads = static_cast<std::uint32_t>(t.threads.size());
  info.ops = t.op_count();
  info.slots = t.slot_count;
  info.scopes = t.scope_count;
  info.edges = t.edge_count;
  for (const auto& s : t.threads)
    for (const Op& op : s) ++info.by_kind[static_cast<std::size_t>(op.kind) % info.by_kind.size()];
  Walker w(t);
  InfoObserver obs(info, w);
  obs.sizes.reserve(info.count(OpKind::alloc));
  obs.lifetimes.reserve(info.count(OpKind::free) + info.count(OpKind::release));
  obs.request_bytes.assign(t.scope_count, 0);
  obs.request_allocs.assign(t.scope_count, 0);
  obs.connection_bytes.assign(t.scope_count, 0);
  obs.depth.assign(t.scope_count, 0);
  obs.held_now.assign(t.scope_count, 0);
  obs.held_peak.assign(t.scope_count, 0);
  obs.conn_live.assign(t.scope_count, 0);
  obs.conn_open_requests.assign(t.scope_count, 0);
  obs.conn_idle.assign(t.scope_count, 0);
  obs.arena_bytes.assign(t.scope_count, 0);
  obs.current_request.assign(t.threads.size(), kNoScope);
  obs.slot_request.assign(t.slot_count, kNoScope);
  w.run(obs);
  info.end_live_bytes = w.live_bytes();
  info.end_live_blocks = obs.live_blocks;
  info.alloc_size = summarize(std::move(obs.sizes));
  info.lifetime_ops = summarize(std::move(obs.lifetimes));
  std::vector<std::uint64_t> rb, ra, cb, held;
  for (std::uint32_t s = 0; s < t.scope_count; ++s) {
    if (w.scopes()[s].kind == ScopeKind::connection) cb.push_back(obs.connection_bytes[s]);
    if (w.scopes()[s].kind != ScopeKind::request) continue;
    rb.push_back(obs.request_bytes[s]);
    held.push_back(obs.held_peak[s]);
    ra.push_back(obs.request_allocs[s]);
    info.requests_within_8k += obs.request_bytes[s] <= 8192;
    info.requests_within_8k_arena += obs.arena_bytes[s] <= 8192;
  }
  info.connection_bytes = summarize(std::move(cb));
  info.request_held_bytes = summarize(std::move(held));
  info.idle_connection_bytes = summarize(std::move(obs.idle_samples));
  info.request_bytes = summarize(std::move(rb));
  info.request_allocs = summarize(std::move(ra));
  info.metadata = nlohmann::json::parse(t.metadata, nullptr, false);
  if (info.metadata.is_discarded()) info.metadata = nlohmann::json::object();
  return info;
}

nlohmann::json to_json(const TraceInfo& i) {
  nlohmann::json ops = nlohmann::json::object();
  for (auto k : {OpKind::alloc, OpKind::free, OpKind::release, OpKind::realloc, OpKind::open, OpKind::close,
                 OpKind::signal, OpKind::wait, OpKind::think})
    ops[std::string(kind_name(k))] = i.count(k);
  nlohmann::json hist = nlohmann::json::array();
  for (std::size_t b = 0; b < i.size_histogram.size(); ++b) {
    if (!i.size_histogram[b]) continue;
    std::uint64_t lo = b == 0 ? 0 : std::uint64_t{1} << (b - 1);
    std::uint64_t hi = b == 0 ? 0 : (std::uint64_t{1} << b) - 1;
    hist.push_back({{"min", lo}, {"max", hi}, {"count", i.size_histogram[b]}});
  }
  return {
      {"threads", i.threads},
      {"ops", i.ops},
      {"ops_by_kind", ops},
      {"slots", i.slots},
      {"scopes", i.scopes},
      {"edges", i.edges},
      {"bytes_allocated", i.bytes_allocated},
      {"alloc_size", summary_json(i.alloc_size)},
      {"size_histogram", hist},
      {"aligned_allocs", i.aligned_allocs},
      {"peak_live_bytes", i.peak_live_bytes},
      {"peak_live_blocks", i.peak_live_blocks},
      {"end_live_bytes", i.end_live_bytes},
      {"end_live_blocks", i.end_live_blocks},
      {"lifetime_ops", summary_json(i.lifetime_ops)},
      {"cross_thread_frees", i.cross_thread_frees},
      {"scopes_by_kind",
       {{"connection", i.scopes_by_kind[0]}, {"request", i.scopes_by_kind[1]}, {"child", i.scopes_by_kind[2]}}},
      {"max_scope_depth", i.max_scope_depth},
      {"scoped_allocs", i.scoped_allocs},
      {"unscoped_allocs", i.unscoped_allocs},
      {"request_bytes", summary_json(i.request_bytes)},
      {"requests_within_8k", i.requests_within_8k},
      {"requests_within_8k_arena", i.requests_within_8k_arena},
      {"peak_open_requests", i.peak_open_requests},
      {"connection_bytes", summary_json(i.connection_bytes)},
      {"request_held_bytes", summary_json(i.request_held_bytes)},
      {"idle_connection_bytes", summary_json(i.idle_connection_bytes)},
      {"request_allocs", summary_json(i.request_allocs)},
      {"think_ns", i.think_ns},
      {"metadata", i.metadata},
  };
}

std::string to_report(const TraceInfo& i) {
  std::string out;
  char line[256];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  if (i.metadata.contains("model")) add("model        %s\n", i.metadata["model"].dump().c_str());
  add("threads      %u\n", i.threads);
  add("ops          %llu (alloc %llu, free %llu, release %llu, realloc %llu, open %llu, close %llu, signal %llu, "
      "wait %llu, think %llu)\n",
      u(i.ops), u(i.count(OpKind::alloc)), u(i.count(OpKind::free)), u(i.count(OpKind::release)),
      u(i.count(OpKind::realloc)), u(i.count(OpKind::open)), u(i.count(OpKind::close)), u(i.count(OpKind::signal)),
      u(i.count(OpKind::wait)), u(i.count(OpKind::think)));
  add("slots        %u   scopes %u   edges %u\n", i.slots, i.scopes, i.edges);
  add("sizes        mean %.0f B, p50 %llu, p90 %llu, p99 %llu, max %llu; %llu aligned\n", i.alloc_size.mean,
      u(i.alloc_size.p50), u(i.alloc_size.p90), u(i.alloc_size.p99), u(i.alloc_size.max), u(i.aligned_allocs));
  add("allocated    %s in all\n", human_bytes(static_cast<double>(i.bytes_allocated)).c_str());
  add("peak live    %s in %llu blocks (the ideal footprint)\n", human_bytes(static_cast<double>(i.peak_live_bytes)).c_str(),
      u(i.peak_live_blocks));
  add("never freed  %s in %llu blocks\n", human_bytes(static_cast<double>(i.end_live_bytes)).c_str(),
      u(i.end_live_blocks));
  add("lifetimes    in ops: p50 %llu, p90 %llu, p99 %llu, max %llu\n", u(i.lifetime_ops.p50), u(i.lifetime_ops.p90),
      u(i.lifetime_ops.p99), u(i.lifetime_ops.max));
  add("cross-thread %llu frees\n", u(i.cross_thread_frees));
  add("scopes       %llu connection, %llu request, %llu child; depth up to %u\n", u(i.scopes_by_kind[0]),
      u(i.scopes_by_kind[1]), u(i.scopes_by_kind[2]), i.max_scope_depth);
  add("allocs       %llu in scopes, %llu outside (a strategy's base allocator serves those)\n", u(i.scoped_allocs),
      u(i.unscoped_allocs));
  if (i.request_bytes.count)
    add("per request  bytes p50 %llu, p90 %llu, p99 %llu, max %llu; allocs p50 %llu, p99 %llu\n",
        u(i.request_bytes.p50), u(i.request_bytes.p90), u(i.request_bytes.p99), u(i.request_bytes.max),
        u(i.request_allocs.p50), u(i.request_allocs.p99));
  if (i.request_bytes.count)
    add("requests     %.1f%% fit 8 KiB; up to %llu open at once\n",
        100.0 * static_cast<double>(i.requests_within_8k) / static_cast<double>(i.request_bytes.count),
        u(i.peak_open_requests));
  if (i.connection_bytes.count)
    add("connections  bytes outside requests p50 %llu, p99 %llu\n", u(i.connection_bytes.p50),
        u(i.connection_bytes.p99));
  if (i.think_ns) add("think time   %.3f ms\n", static_cast<double>(i.think_ns) / 1e6);
  out += "size histogram (alloc ops):\n";
  std::uint64_t top = 0;
  for (auto c : i.size_histogram) top = std::max(top, c);
  for (std::size_t b = 0; b < i.size_histogram.size(); ++b) {
    std::uint64_t c = i.size_histogram[b];
    if (!c) continue;
    std::uint64_t lo = b == 0 ? 0 : std::uint64_t{1} << (b - 1);
    std::uint64_t hi = b == 0 ? 0 : (std::uint64_t{1} << b) - 1;
    int bar = static_cast<int>(40.0 * static_cast<double>(c) / static_cast<double>(top) + 0.5);
    add("  %10llu-%-10llu %10llu %s\n", u(lo), u(hi), u(c), std::string(static_cast<std::size_t>(bar), '#').c_str());
  }
  return out;
}

}  // namespace alloclab::trace
