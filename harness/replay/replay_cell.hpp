// One replay of a planned trace against one backend type, with the memory
// figures around it: what a worker process measures for one cell. Or, for
// `--count instructions`, one untimed replay under Callgrind (count_cell);
// for `--count wall`, one with no timer read inside it (wall_cell).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "allocators/contract.hpp"
#include "allocators/general/allocator_stats.hpp"
#include "allocators/general/library.hpp"
#include "harness/replay/age.hpp"
#include "harness/replay/replay.hpp"

namespace alloclab::replay {

struct CellOptions {
  Touch touch = Touch::pages;
  std::uint64_t rss_samples = 200;
  std::uint64_t (*heap_probe)() = nullptr;  // see ReplayOptions
  std::uint64_t (*thread_cache_probe)() = nullptr;  // see ReplayOptions
  std::vector<int> pin_cpus;                         // see ReplayOptions
  // An aged heap first (harness/replay/age.hpp): about this many live bytes
  // churned through the process allocator; 0 for a fresh heap.
  std::uint64_t age_bytes = 0;
  std::uint64_t age_seed = 1;
  // After the replay and its frees, RSS sampled every idle_interval while
  // the process sits idle this long (no allocator call, no forced release);
  // 0 for none.
  double idle_seconds = 0;
  double idle_interval = 0.1;
};

// RSS every `interval` seconds for `seconds`, the first reading at once:
// what an idle process keeps without being asked to release
// (results/SCHEMA.md, "memory.idle"). Reads /proc only: no allocator call
// (a statistics call could itself trigger a purge).
nlohmann::json idle_json(double seconds, double interval);

// The figures of one replay as JSON (results/SCHEMA.md, "replay").
nlohmann::json replay_json(const Plan& plan, const ReplayResult& r, const ClockCalibration& clock, Touch touch);
// The figures of one counted replay: ops and their outcomes only, the
// instructions being Callgrind's to report (results/SCHEMA.md, "replay"
// under --count instructions).
nlohmann::json counted_json(const Plan& plan, const ReplayResult& r);
// Footprint ratios from the timeline (results/SCHEMA.md, "fragmentation"):
// memory is counted above what the process held when the replay began.
nlohmann::json fragmentation_json(const ReplayResult& r, std::uint64_t rss_baseline, std::uint64_t heap_baseline,
                                  std::uint64_t peak_rss);
nlohmann::json stats_json(const BackendStats& s);
nlohmann::json counters_json(const AllocatorCounters& c);

// Why backend B cannot replay the plan, or "" if it can: a backend that is
// not thread-safe gets one instance per thread, so a block it serves must
// not be freed on another thread.
template <Backend B>
std::string unsupported_reason(const Plan& plan) {
  constexpr Capabilities c = B::capabilities;
  if (!c.thread_safe && !c.scoped && c.frees_individually && plan.crosses_threads && plan.threads.size() > 1)
    return "not thread-safe, and the trace frees blocks on another thread than the one that allocated them";
  return "";
}

namespace detail {

// One shared instance for a thread-safe backend, one per thread otherwise.
template <Backend B, class Make>
std::vector<std::unique_ptr<B>> make_instances(Make& make, const Plan& plan) {
  static_assert(B::capabilities.thread_safe || alignof(B) >= 64,
                "a backend with an instance per thread is declared alignas(64) (allocators/contract.hpp)");
  std::size_t instances = B::capabilities.thread_safe ? 1 : plan.threads.size();
  std::vector<std::unique_ptr<B>> owned;
  for (std::size_t i = 0; i < instances; ++i) owned.push_back(make());
  return owned;
}

template <Backend B>
std::vector<B*> pointers(const std::vector<std::unique_ptr<B>>& owned) {
  std::vector<B*> out;
  for (const auto& p : owned) out.push_back(p.get());
  return out;
}

// The instances' statistics, summed.
template <Backend B>
BackendStats total_stats(const std::vector<B*>& backends) {
  BackendStats stats;
  if constexpr (HasStats<B>) {
    for (B* b : backends) {
      BackendStats s = b->stats();
      stats.reserved_bytes += s.reserved_bytes;
      stats.in_use_bytes += s.in_use_bytes;
      stats.failed_allocations += s.failed_allocations;
      stats.fallthrough_allocations += s.fallthrough_allocations;
      stats.rejections += s.rejections;
      stats.spills += s.spills;
      stats.wasted_bytes += s.wasted_bytes;
      // The optional counters: counted only when every instance counts.
      auto sum = [&](std::uint64_t BackendStats::*f) {
        if (b == backends.front()) stats.*f = s.*f;
        else if (stats.*f == BackendStats::kNotCounted || s.*f == BackendStats::kNotCounted)
          stats.*f = BackendStats::kNotCounted;
        else stats.*f += s.*f;
      };
      for (auto f : {&BackendStats::upstream_allocations, &BackendStats::cancelled_requests,
                     &BackendStats::turned_away_requests, &BackendStats::pool_misses, &BackendStats::scoped_bytes,
                     &BackendStats::padding_bytes, &BackendStats::freed_in_scope_bytes})
        sum(f);
    }
  }
  return stats;
}

// The forced release: the backend's own, then the process malloc's.
template <Backend B>
void release_all(const std::vector<B*>& backends) {
  if constexpr (ReleasesToOs<B>) {
    for (B* b : backends) b->release_to_os();
  }
  release_free_memory();
}

inline nlohmann::json unsupported_json(const std::string& why) {
  return {{"status", "unsupported"}, {"reason", why}};
}

}  // namespace detail

// make() returns a std::unique_ptr<B>. Throws nothing it does not pass on
// from make().
template <Backend B, class Make>
nlohmann::json replay_cell(Make make, const Plan& plan, const CellOptions& o, const ClockCalibration& clock) {
  nlohmann::json out;
  if (auto why = unsupported_reason<B>(plan); !why.empty()) return detail::unsupported_json(why);
  // Aged before anything of the cell's own is allocated, so the backends'
  // upstream memory comes from the aged heap as well.
  AgedHeap aged(o.age_bytes, o.age_seed);
  std::vector<std::unique_ptr<B>> owned = detail::make_instances<B>(make, plan);
  std::vector<B*> backends = detail::pointers(owned);
  RssProbe rss;
  ReplayResult r;
  std::uint64_t baseline = 0, peak = 0, end = 0, heap_baseline = 0, anon_huge_end = 0;
  OsCounters os_before, os_after;
  BackendStats stats;
  AllocatorCounters after_replay;
  {
    Replayer<B> replayer(plan, backends, clock, {o.touch, o.rss_samples, o.heap_probe, o.thread_cache_probe, o.pin_cpus});
    // Memory freed while loading and planning the trace goes back first, so
    // the replay cannot be served from it unseen: growth above the baseline
    // is then the replay's own.
    release_free_memory();
    baseline = rss.rss_bytes();
    heap_baseline = o.heap_probe ? o.heap_probe() : 0;
    bool peak_reset = reset_peak_rss();
    os_before = os_counters();
    r = replayer.run();
    os_after = os_counters();
    end = rss.rss_bytes();
    anon_huge_end = anon_huge_bytes();
    peak = peak_reset ? peak_rss_bytes() : 0;
    after_replay = read_allocator_counters();
    stats = detail::total_stats(backends);
    replayer.drain();
  }
  nlohmann::json idle = o.idle_seconds > 0 ? idle_json(o.idle_seconds, o.idle_interval) : nullptr;
  detail::release_all(backends);
  std::uint64_t floor = rss.rss_bytes();
  AllocatorCounters after_release = read_allocator_counters();
  owned.clear();

  out = replay_json(plan, r, clock, o.touch);
  out["status"] = "ok";
  auto& m = out["memory"];
  m["baseline_rss_bytes"] = baseline;
  m["peak_rss_bytes"] = peak;
  m["end_rss_bytes"] = end;
  m["floor_rss_bytes"] = floor;
  m["heap_baseline_bytes"] = heap_baseline;
  if (!idle.is_null()) m["idle"] = std::move(idle);
  if (o.age_bytes) {
    const AgeResult& a = aged.result();
    out["age"] = {{"requested_bytes", o.age_bytes}, {"bytes", a.bytes},
                  {"allocations", a.allocations}, {"allocated_bytes", a.allocated_bytes},
                  {"retained_blocks", a.retained_blocks}, {"retained_bytes", a.retained_bytes},
                  {"seconds", a.seconds}};
  }
  out["fragmentation"] = fragmentation_json(r, baseline, heap_baseline, peak);
  // The kernel's counts over the replay itself (every thread; the timeline's
  // RSS reads and the touches included, setup and release not).
  out["os"] = {{"minor_faults", os_after.minor_faults - os_before.minor_faults},
               {"major_faults", os_after.major_faults - os_before.major_faults},
               {"user_seconds", os_after.user_seconds - os_before.user_seconds},
               {"system_seconds", os_after.system_seconds - os_before.system_seconds},
               {"anon_huge_bytes_end", anon_huge_end},
               {"anon_huge_bytes_peak", r.anon_huge_bytes_at_peak},
               {"rss_at_anon_huge_peak_bytes", r.rss_at_anon_huge_read}};
  // The process allocator's own counters at the end of the replay (blocks
  // the trace never freed still live) and after the forced release.
  out["allocator"] = {{"after_replay", counters_json(after_replay)},
                      {"after_release", counters_json(after_release)}};
  if constexpr (HasStats<B>) out["backend_stats"] = stats_json(stats);
  return out;
}

// The counted variant of replay_cell(), run under Callgrind: the untimed
// replay (Replayer::count) between the same preparations (memory freed
// while planning returned first) and the same end (every block freed, the
// forced release), with none of the probes whose figures mean nothing
// under Callgrind (RSS is Callgrind's own as much as the process's, and
// times are Callgrind's). The allocator's and the strategy's own counters
// are kept: they are exact.
template <Backend B, class Make>
nlohmann::json count_cell(Make make, const Plan& plan, const CellOptions& o) {
  if (auto why = unsupported_reason<B>(plan); !why.empty()) return detail::unsupported_json(why);
  std::vector<std::unique_ptr<B>> owned = detail::make_instances<B>(make, plan);
  std::vector<B*> backends = detail::pointers(owned);
  ReplayResult r;
  BackendStats stats;
  AllocatorCounters after_replay;
  {
    ReplayOptions ro;
    ro.touch = o.touch;
    ro.rss_samples = 0;
    Replayer<B> replayer(plan, backends, ClockCalibration{}, ro);
    release_free_memory();
    r = replayer.count();
    after_replay = read_allocator_counters();
    stats = detail::total_stats(backends);
    replayer.drain();
  }
  detail::release_all(backends);
  AllocatorCounters after_release = read_allocator_counters();
  owned.clear();

  nlohmann::json out = counted_json(plan, r);
  out["status"] = "ok";
  out["allocator"] = {{"after_replay", counters_json(after_replay)},
                      {"after_release", counters_json(after_release)}};
  if constexpr (HasStats<B>) out["backend_stats"] = stats_json(stats);
  return out;
}

// The untimed variant of replay_cell() (replay.hpp, "Untimed"): the same
// replay with no timer read inside it, after the same preparation, timed
// only as each thread's wall time. Its busy time is what replaying the trace
// costs before anything is measured: against replay_cell()'s busy time on
// the same backend, what the timing adds; null's against an allocator's,
// the lowest harness ratio any per-op timing of the trace could reach.
template <Backend B, class Make>
nlohmann::json wall_cell(Make make, const Plan& plan, const CellOptions& o, const ClockCalibration& clock) {
  if (auto why = unsupported_reason<B>(plan); !why.empty()) return detail::unsupported_json(why);
  std::vector<std::unique_ptr<B>> owned = detail::make_instances<B>(make, plan);
  std::vector<B*> backends = detail::pointers(owned);
  ReplayResult r;
  {
    Replayer<B> replayer(plan, backends, clock, {o.touch, 0, nullptr, nullptr, o.pin_cpus});
    release_free_memory();
    r = replayer.template run<false>();
    replayer.drain();
  }
  detail::release_all(backends);
  owned.clear();
  nlohmann::json out = counted_json(plan, r);
  out["count"] = "wall";
  out["busy_seconds"] = r.busy_seconds;
  out["wall_seconds"] = r.wall_seconds;
  for (std::size_t th = 0; th < r.threads.size(); ++th)
    out["per_thread"][th]["busy_seconds"] = static_cast<double>(r.threads[th].wall_ticks) * clock.ns_per_tick / 1e9;
  out["status"] = "ok";
  return out;
}

}  // namespace alloclab::replay
