#include "harness/replay/replay_cell.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace alloclab::replay {

nlohmann::json stats_json(const BackendStats& s) {
  nlohmann::json j = {{"reserved_bytes", s.reserved_bytes},
                      {"in_use_bytes", s.in_use_bytes},
                      {"failed_allocations", s.failed_allocations},
                      {"fallthrough_allocations", s.fallthrough_allocations},
                      {"rejections", s.rejections},
                      {"spills", s.spills},
                      {"wasted_bytes", s.wasted_bytes}};
  auto counted = [&](const char* key, std::uint64_t v) {
    if (v != BackendStats::kNotCounted) j[key] = v;
  };
  counted("upstream_allocations", s.upstream_allocations);
  counted("cancelled_requests", s.cancelled_requests);
  counted("turned_away_requests", s.turned_away_requests);
  counted("pool_misses", s.pool_misses);
  counted("scoped_bytes", s.scoped_bytes);
  counted("padding_bytes", s.padding_bytes);
  counted("freed_in_scope_bytes", s.freed_in_scope_bytes);
  return j;
}

nlohmann::json idle_json(double seconds, double interval) {
  RssProbe rss;
  nlohmann::json r = nlohmann::json::array();
  const auto start = std::chrono::steady_clock::now();
  const auto n = static_cast<std::size_t>(seconds / interval + 0.5);
  for (std::size_t i = 0; i <= n; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration<double>(interval * static_cast<double>(i)));
    r.push_back(rss.rss_bytes());
  }
  return {{"interval_seconds", interval}, {"rss_bytes", r}};
}

nlohmann::json counters_json(const AllocatorCounters& c) {
  nlohmann::json raw = nlohmann::json::object();
  for (const auto& [name, v] : c.raw) raw[name] = v;
  return {{"family", c.family}, {"heap_bytes", c.heap_bytes}, {"allocated_bytes", c.allocated_bytes}, {"raw", raw}};
}

nlohmann::json replay_json(const Plan& plan, const ReplayResult& r, const ClockCalibration& clock, Touch touch) {
  using nlohmann::json;
  double tick_ns = clock.ns_per_tick;
  std::int64_t ticks[kTimedClasses] = {};
  std::uint64_t ops[kTimedClasses] = {};
  Histogram latency[kTimedClasses];
  std::uint64_t failed = 0, wait = 0, refused = 0;
  std::int64_t fill_ticks = 0, read_ticks = 0;
  std::uint64_t fill_blocks = 0, read_blocks = 0, fill_timed = 0, read_timed = 0, timer_reads = 0;
  json per_thread = json::array();
  for (const auto& t : r.threads) {
    std::uint64_t n = 0;
    for (int c = 0; c < kTimedClasses; ++c) {
      ticks[c] += t.signed_ticks[c];
      ops[c] += t.ops[c];
      latency[c].merge(t.latency[c]);
      n += t.ops[c];
    }
    failed += t.failed;
    refused += t.refused;
    wait += t.wait_ticks;
    timer_reads += t.timer_reads;
    fill_ticks += t.fill_ticks, read_ticks += t.read_ticks;
    fill_blocks += t.fill_blocks, read_blocks += t.read_blocks;
    fill_timed += t.fill_timed_blocks, read_timed += t.read_timed_blocks;
    per_thread.push_back({{"ops", n},
                          {"wall_seconds", static_cast<double>(t.wall_ticks) * tick_ns / 1e9},
                          {"wait_seconds", static_cast<double>(t.wait_ticks) * tick_ns / 1e9},
                          {"cpu_first", t.cpu_first},
                          {"cpu_last", t.cpu_last},
                          {"pinned", t.pinned}});
  }
  json mean = json::object(), counts = json::object(), lat = json::object(), total = json::object();
  std::int64_t all_ticks = 0;
  std::uint64_t all_ops = 0;
  for (int c = 0; c < kTimedClasses; ++c) {
    const char* name = class_name(static_cast<OpClass>(c));
    counts[name] = ops[c];
    total[name] = static_cast<double>(ticks[c]) * tick_ns / 1e9;
    mean[name] = ops[c] ? static_cast<double>(ticks[c]) * tick_ns / static_cast<double>(ops[c]) : 0.0;
    lat[name] = latency[c].to_json();
    all_ticks += ticks[c];
    all_ops += ops[c];
  }
  Histogram per_request;
  for (auto t : r.request_ticks) per_request.record(static_cast<std::uint64_t>(static_cast<double>(t) * tick_ns));
  json timeline = json::array();
  for (const auto& p : r.timeline)
    timeline.push_back({p.ops, p.live_bytes, p.rss_bytes, p.seconds, p.heap_bytes, p.reserved_bytes});
  nlohmann::json out = {
      {"threads", plan.threads.size()},
      {"ops", all_ops},
      {"wall_seconds", r.wall_seconds},
      {"sampling_seconds", r.sampling_seconds},
      {"busy_seconds", r.busy_seconds},
      {"allocator_seconds", static_cast<double>(all_ticks) * tick_ns / 1e9},
      {"ops_per_second", r.busy_seconds > 0 ? static_cast<double>(all_ops) / r.busy_seconds : 0.0},
      {"mean_ns", mean},
      {"ops_by_class", counts},
      {"seconds_by_class", total},
      {"latency_ns", lat},
      {"request_ns", per_request.to_json()},
      {"failed_allocations", failed},
      {"refused_scope_allocations", refused},
      {"wait_seconds", static_cast<double>(wait) * tick_ns / 1e9},
      {"timer_reads", timer_reads},
      {"per_thread", per_thread},
      {"memory", {{"timeline_columns", {"ops", "live_bytes", "rss_bytes", "seconds", "heap_bytes", "reserved_bytes"}},
                  {"timeline", timeline},
                  {"peak_live_bytes_seen", r.peak_live_bytes}}},
  };
  if (r.peak_thread_cache_bytes >= 0) out["memory"]["peak_thread_cache_bytes"] = r.peak_thread_cache_bytes;
  // The application's use of the memory, timed apart from the allocator
  // (harness/replay/replay.hpp, "Access"); none with --touch none.
  if (touch != Touch::none) {
    // The timed chains' seconds per block, times every block.
    auto estimate = [&](std::int64_t t, std::uint64_t timed, std::uint64_t all) {
      return timed ? static_cast<double>(t) * tick_ns / 1e9 / static_cast<double>(timed) * static_cast<double>(all) : 0.0;
    };
    double fill_s = estimate(fill_ticks, fill_timed, fill_blocks), read_s = estimate(read_ticks, read_timed, read_blocks);
    out["access"] = {{"requests", plan.request_count},
                     {"fill_blocks", fill_blocks},
                     {"fill_seconds", fill_s},
                     {"read_blocks", read_blocks},
                     {"read_seconds", read_s},
                     {"seconds", fill_s + read_s},
                     {"timed_one_in", kAccessTimedOneIn},
                     {"fill_timed_blocks", fill_timed},
                     {"read_timed_blocks", read_timed}};
  }
  return out;
}

nlohmann::json counted_json(const Plan& plan, const ReplayResult& r) {
  using nlohmann::json;
  std::uint64_t ops[kTimedClasses] = {};
  std::uint64_t failed = 0, refused = 0, all_ops = 0;
  json per_thread = json::array();
  for (const auto& t : r.threads) {
    std::uint64_t n = 0;
    for (int c = 0; c < kTimedClasses; ++c) ops[c] += t.ops[c], n += t.ops[c];
    failed += t.failed;
    refused += t.refused;
    all_ops += n;
    per_thread.push_back({{"ops", n}});
  }
  json counts = json::object();
  for (int c = 0; c < kTimedClasses; ++c) counts[class_name(static_cast<OpClass>(c))] = ops[c];
  return {{"count", "instructions"},
          {"threads", plan.threads.size()},
          {"ops", all_ops},
          {"ops_by_class", counts},
          {"failed_allocations", failed},
          {"refused_scope_allocations", refused},
          {"per_thread", per_thread}};
}

nlohmann::json fragmentation_json(const ReplayResult& r, std::uint64_t rss_baseline, std::uint64_t heap_baseline,
                                  std::uint64_t peak_rss) {
  auto above = [](std::uint64_t v, std::uint64_t base) { return v > base ? v - base : 0; };
  auto ratio = [](std::uint64_t a, std::uint64_t b) -> nlohmann::json {
    if (b == 0) return nullptr;
    return static_cast<double>(a) / static_cast<double>(b);
  };
  // The point of peak live bytes (the first, if several), and the peaks.
  const TimelinePoint* at = nullptr;
  std::uint64_t peak_heap = 0, peak_reserved = 0;
  for (const auto& p : r.timeline) {
    if (!at || p.live_bytes > at->live_bytes) at = &p;
    peak_heap = std::max(peak_heap, above(p.heap_bytes, heap_baseline));
    peak_reserved = std::max(peak_reserved, p.reserved_bytes);
  }
  if (!at || at->live_bytes == 0) return nullptr;
  std::uint64_t live = at->live_bytes;
  std::uint64_t heap = above(at->heap_bytes, heap_baseline);
  std::uint64_t rss = above(at->rss_bytes, rss_baseline);
  return {
      {"peak_live_bytes", live},
      {"peak_live_seconds", at->seconds},
      {"heap_at_peak_live_bytes", heap},
      {"peak_heap_bytes", peak_heap},
      {"rss_at_peak_live_bytes", rss},
      {"reserved_at_peak_live_bytes", at->reserved_bytes},
      {"peak_reserved_bytes", peak_reserved},
      // Johnstone & Wilson (ISMM 1998): the allocator's memory at the
      // moment of peak live over peak live, and its peak over peak live.
      {"heap_at_peak_live_over_live", heap_baseline || at->heap_bytes ? ratio(heap, live) : nullptr},
      {"peak_heap_over_peak_live", heap_baseline || at->heap_bytes ? ratio(peak_heap, live) : nullptr},
      // What the OS sees: resident memory over live.
      {"rss_at_peak_live_over_live", ratio(rss, live)},
      {"peak_rss_over_peak_live", peak_rss ? ratio(above(peak_rss, rss_baseline), live) : nullptr},
      // A strategy's own accounting: what it holds from upstream over live.
      {"reserved_at_peak_live_over_live", peak_reserved ? ratio(at->reserved_bytes, live) : nullptr},
  };
}

}  // namespace alloclab::replay
