#include "harness/replay/replay_cell.hpp"

#include <algorithm>

namespace alloclab::replay {

nlohmann::json stats_json(const BackendStats& s) {
  return {{"reserved_bytes", s.reserved_bytes},
          {"in_use_bytes", s.in_use_bytes},
          {"failed_allocations", s.failed_allocations},
          {"fallthrough_allocations", s.fallthrough_allocations},
          {"rejections", s.rejections},
          {"spills", s.spills},
          {"wasted_bytes", s.wasted_bytes}};
}

nlohmann::json replay_json(const Plan& plan, const ReplayResult& r, const ClockCalibration& clock) {
  using nlohmann::json;
  double tick_ns = clock.ns_per_tick;
  std::int64_t ticks[kTimedClasses] = {};
  std::uint64_t ops[kTimedClasses] = {};
  Histogram latency[kTimedClasses];
  std::uint64_t failed = 0, wait = 0;
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
    wait += t.wait_ticks;
    per_thread.push_back({{"ops", n},
                          {"wall_seconds", static_cast<double>(t.wall_ticks) * tick_ns / 1e9},
                          {"wait_seconds", static_cast<double>(t.wait_ticks) * tick_ns / 1e9}});
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
  for (const auto& p : r.timeline) timeline.push_back({p.ops, p.live_bytes, p.rss_bytes, p.seconds});
  return {
      {"threads", plan.threads.size()},
      {"ops", all_ops},
      {"wall_seconds", r.wall_seconds},
      {"allocator_seconds", static_cast<double>(all_ticks) * tick_ns / 1e9},
      {"ops_per_second", r.wall_seconds > 0 ? static_cast<double>(all_ops) / r.wall_seconds : 0.0},
      {"mean_ns", mean},
      {"ops_by_class", counts},
      {"seconds_by_class", total},
      {"latency_ns", lat},
      {"request_ns", per_request.to_json()},
      {"failed_allocations", failed},
      {"wait_seconds", static_cast<double>(wait) * tick_ns / 1e9},
      {"per_thread", per_thread},
      {"memory", {{"timeline_columns", {"ops", "live_bytes", "rss_bytes", "seconds"}},
                  {"timeline", timeline},
                  {"peak_live_bytes_seen", r.peak_live_bytes}}},
  };
}

}  // namespace alloclab::replay
