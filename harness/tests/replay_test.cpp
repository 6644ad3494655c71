// The replay engine: it makes exactly the calls the trace holds, honours
// scopes and edges, and reports figures that add up.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>

#include "allocators/general/malloc_backend.hpp"
#include "allocators/registry.hpp"
#include "harness/replay/null_backend.hpp"
#include "harness/replay/replay_cell.hpp"
#include "workloads/models/model.hpp"
#include "workloads/trace_builder.hpp"
#include "workloads/trace_info.hpp"

using namespace alloclab;
using namespace alloclab::replay;

namespace {

trace::Trace model(const char* name, std::uint32_t threads, std::uint32_t requests = 300) {
  trace::ModelParams p;
  p.threads = threads;
  p.requests = requests;
  p.connections = 8;
  return trace::generate(*trace::find_model(name), p);
}

const ClockCalibration& calibration() {
  static ClockCalibration c = calibrate();
  return c;
}

template <class B>
nlohmann::json replay_with(const trace::Trace& t, CellOptions o = {}) {
  Plan plan = make_plan(t, 16, 1);
  return replay_cell<B>([] { return std::make_unique<B>(); }, plan, o, calibration());
}

// A counting backend over malloc: checks the replay's calls one by one.
struct Counting {
  static constexpr Capabilities capabilities{.frees_individually = true, .scoped = false, .thread_safe = true};
  std::atomic<std::uint64_t> allocs{0}, frees{0}, live_bytes{0};
  void* allocate(std::size_t n, std::size_t a) noexcept {
    ++allocs;
    live_bytes += n;
    return base_allocate(n, a);
  }
  void deallocate(void* p, std::size_t n, std::size_t) noexcept {
    ++frees;
    live_bytes -= n;
    std::free(p);
  }
};

}  // namespace

TEST(Replay, CalibrationIsSane) {
  const auto& c = calibration();
  EXPECT_GT(c.ns_per_tick, 0.01);
  EXPECT_LT(c.ns_per_tick, 10.0);
  EXPECT_GT(c.overhead_ns, 0.0);
  EXPECT_LT(c.overhead_ns, 10000.0);
}

TEST(Replay, MakesExactlyTheTracesCalls) {
  auto t = model("http1-static", 1);
  auto info = trace::analyze(t);
  Plan plan = make_plan(t, 16, 1);
  Counting backend;
  {
    Replayer<Counting> r(plan, {&backend}, calibration(), {});
    auto res = r.run();
    std::uint64_t allocs = 0, failed = 0;
    for (auto& th : res.threads) allocs += th.ops[0], failed += th.failed;
    EXPECT_EQ(allocs, info.count(trace::OpKind::alloc));
    EXPECT_EQ(failed, 0u);
    r.drain();
  }
  // Every alloc is freed (by free, release or the drain); realloc counts one alloc and one free more.
  EXPECT_EQ(backend.allocs.load(), info.count(trace::OpKind::alloc) + info.count(trace::OpKind::realloc));
  EXPECT_EQ(backend.frees.load(), backend.allocs.load());
  EXPECT_EQ(backend.live_bytes.load(), 0u);
}

// Two threads writing one cache line slow each other down, and the loop's
// own state would put that inside an allocator's intervals. The plan numbers
// slots and scopes thread by thread and gives each thread its own request
// numbers, so a line of that state is shared only where a block or scope
// is: as the trace numbers them, most lines are.
TEST(Replay, EachThreadsSlotsScopesAndRequestsLieApart) {
  for (const char* name : {"http1-static", "http-api", "proxy"}) {
    SCOPED_TRACE(name);
    auto t = model(name, 4, 400);
    Plan plan = make_plan(t, 16, 1);
    ASSERT_EQ(plan.requests.size(), plan.threads.size());
    constexpr std::uint32_t kSlotsALine = 64 / sizeof(replay::detail::Slot), kScopesALine = 8;
    std::vector<std::uint32_t> slot_users(plan.slot_count), slot_lines((plan.slot_count + kSlotsALine - 1) / kSlotsALine);
    std::vector<std::uint32_t> scope_users(plan.scope_count), scope_lines((plan.scope_count + kScopesALine - 1) / kScopesALine);
    std::vector<std::uint32_t> charged(plan.request_count + 1, 0);
    std::uint64_t opens = 0;
    for (std::size_t th = 0; th < plan.threads.size(); ++th) {
      const std::uint32_t bit = 1u << th;
      const auto& mine = plan.requests[th];
      std::vector<bool> seen(mine.size() + 1, false);
      for (std::size_t i = 0; i < plan.threads[th].size(); ++i) {
        const Step& s = plan.threads[th][i];
        const bool slot = s.kind == trace::OpKind::alloc || s.kind == trace::OpKind::free ||
                          s.kind == trace::OpKind::release || s.kind == trace::OpKind::realloc;
        if (slot) slot_users[s.a] |= bit, slot_lines[s.a / kSlotsALine] |= bit;
        if (s.kind == trace::OpKind::open || s.kind == trace::OpKind::close)
          scope_users[s.a] |= bit, scope_lines[s.a / kScopesALine] |= bit;
        if (s.kind == trace::OpKind::open) {
          ++opens;
          // The kind moved with the scope's new number.
          EXPECT_EQ(plan.scope_kinds[s.a], static_cast<trace::ScopeKind>(t.threads[th][i].aux));
        }
        if ((slot || s.kind == trace::OpKind::open) && s.scope) scope_users[s.scope - 1] |= bit, scope_lines[(s.scope - 1) / kScopesALine] |= bit;
        if (s.request == 0) continue;
        ASSERT_LE(s.request, mine.size());
        seen[s.request] = true;
        charged[mine[s.request - 1]] |= bit;
      }
      // Every request a thread lists, it charges; none twice.
      for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_TRUE(seen[i]) << "thread " << th << " request " << i;
      std::vector<std::uint32_t> sorted = mine;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
    }
    EXPECT_EQ(opens, plan.scope_count);
    // Every request is charged by some thread.
    for (std::uint32_t q = 1; q <= plan.request_count; ++q) EXPECT_NE(charged[q], 0u) << "request " << q;
    auto shared = [](const std::vector<std::uint32_t>& v) {
      return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](std::uint32_t m) { return std::popcount(m) > 1; }));
    };
    // A line is shared only where one of its entries is, or at the seam
    // between two threads' numbers.
    EXPECT_LE(shared(slot_lines), shared(slot_users) + plan.threads.size()) << "of " << slot_lines.size() << " lines";
    EXPECT_LE(shared(scope_lines), shared(scope_users) + plan.threads.size()) << "of " << scope_lines.size() << " lines";
    EXPECT_GT(slot_lines.size(), 8 * plan.threads.size());
  }
}

// The plan's chains are what the timed loop walks instead of the steps: they
// must cover every step once, in order, break where a batch must (an
// untimed step, kMaxBatch), and list exactly the chain's frees and
// allocations; their live bytes must add up to the trace's.
TEST(Replay, PlanChainsCoverEveryStepAndListItsFreesAndAllocations) {
  for (const char* name : {"http1-static", "http-api", "proxy"}) {
    SCOPED_TRACE(name);
    auto t = model(name, 2);
    Plan plan = make_plan(t, 16, 1);
    ASSERT_EQ(plan.chains.size(), plan.threads.size());
    ASSERT_EQ(plan.access.size(), plan.threads.size());
    std::int64_t live = 0;
    std::size_t untimed = 0, timed = 0;
    for (std::size_t th = 0; th < plan.threads.size(); ++th) {
      const auto& steps = plan.threads[th];
      std::uint32_t at = 0, reads = 0, fills = 0;
      for (const Chain& c : plan.chains[th]) {
        ASSERT_EQ(c.begin, at);
        ASSERT_GT(c.end, c.begin);
        if (steps[c.begin].batch == 0) {
          EXPECT_EQ(c.end, c.begin + 1u) << "an untimed step is a chain alone";
          ++untimed;
        } else {
          EXPECT_LT(c.end - c.begin, 2 * kMaxBatch);
          // Batches back to back: each starts where the last ended, none untimed.
          std::uint32_t j = c.begin;
          while (j < c.end) {
            ASSERT_NE(steps[j].batch, 0) << "an untimed step inside a chain";
            j += steps[j].batch;
          }
          EXPECT_EQ(j, c.end);
          // It ends at an untimed step, the trace's end, or the length limit.
          EXPECT_TRUE(c.end == steps.size() || steps[c.end].batch == 0 || c.end - c.begin >= kMaxBatch);
          ++timed;
        }
        EXPECT_EQ(c.read_at, reads);
        EXPECT_EQ(c.fill_at, fills);
        std::vector<std::uint32_t> want_reads, want_fills;
        for (std::uint32_t q = c.begin; q < c.end; ++q) {
          auto k = steps[q].kind;
          if (k == trace::OpKind::free || k == trace::OpKind::release) want_reads.push_back(steps[q].a);
          if (k == trace::OpKind::alloc || k == trace::OpKind::realloc) want_fills.push_back(steps[q].a);
        }
        EXPECT_EQ(std::vector<std::uint32_t>(plan.access[th].reads.begin() + c.read_at,
                                             plan.access[th].reads.begin() + c.read_at + c.frees),
                  want_reads);
        EXPECT_EQ(std::vector<std::uint32_t>(plan.access[th].fills.begin() + c.fill_at,
                                             plan.access[th].fills.begin() + c.fill_at + c.allocs),
                  want_fills);
        reads += c.frees;
        fills += c.allocs;
        live += c.live_delta;
        at = c.end;
      }
      EXPECT_EQ(at, steps.size());
      EXPECT_EQ(reads, plan.access[th].reads.size());
      EXPECT_EQ(fills, plan.access[th].fills.size());
    }
    auto info = trace::analyze(t);
    EXPECT_EQ(live, static_cast<std::int64_t>(info.end_live_bytes)) << "the chains' live bytes add up";
    EXPECT_GT(timed, 0u);
    if (std::string(name) == "proxy") {
      EXPECT_GT(untimed, 0u) << "proxy hands buffers over: waits and signals";
    }
  }
}

TEST(Replay, GeneralAllocatorCellReportsEveryFigure) {
  auto t = model("http1-static", 2);
  auto info = trace::analyze(t);
  auto j = replay_with<MallocBackend>(t);
  ASSERT_EQ(j["status"], "ok") << j.dump();
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["ops_by_class"]["alloc"], info.count(trace::OpKind::alloc));
  EXPECT_EQ(j["ops_by_class"]["free"], info.count(trace::OpKind::free) + info.count(trace::OpKind::release));
  EXPECT_EQ(j["failed_allocations"], 0);
  EXPECT_GT(j["mean_ns"]["alloc"].get<double>(), 0.0);
  EXPECT_GT(j["latency_ns"]["alloc"]["count"].get<std::uint64_t>(), info.count(trace::OpKind::alloc) / 40);
  EXPECT_EQ(j["request_ns"]["count"], info.scopes_by_kind[1]);
  EXPECT_GE(j["memory"]["timeline"].size(), 100u);
  EXPECT_GT(j["memory"]["peak_rss_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_GT(j["ops_per_second"].get<double>(), 0.0);
}

TEST(Replay, ScopedStrategyReleasesThroughScopes) {
  // long-running keeps a cache outside any scope: bump passes it to malloc.
  auto t = model("long-running", 2);
  std::string failure;
  bool ran = false;
  with_registration("bump", [&](const auto& reg) {
    using B = typename std::remove_cvref_t<decltype(*reg.make({}))>;
    Plan plan = make_plan(t, 16, 1);
    auto j = replay_cell<B>([&] { return reg.make({}); }, plan, {}, calibration());
    ran = true;
    EXPECT_EQ(j["status"], "ok") << j.dump();
    EXPECT_EQ(j["failed_allocations"], 0);
    EXPECT_GT(static_cast<std::uint64_t>(j["backend_stats"]["fallthrough_allocations"]), 0u);
  });
  EXPECT_TRUE(ran);
}

TEST(Replay, NotThreadSafeBackendRefusesCrossThreadFrees) {
  auto t = model("proxy", 2);
  bool ran = false;
  with_registration("pool", [&](const auto& reg) {
    using B = typename std::remove_cvref_t<decltype(*reg.make({}))>;
    Plan plan = make_plan(t, 16, 1);
    EXPECT_TRUE(plan.crosses_threads);
    auto j = replay_cell<B>([&] { return reg.make({}); }, plan, {}, calibration());
    EXPECT_EQ(j["status"], "unsupported");
    ran = true;
  });
  EXPECT_TRUE(ran);
  auto ok = replay_with<MallocBackend>(t);
  EXPECT_EQ(ok["status"], "ok");
}

TEST(Replay, NullBackendMeasuresTheHarness) {
  auto t = model("http1-static", 1);
  auto j = replay_with<NullBackend>(t);
  ASSERT_EQ(j["status"], "ok");
  EXPECT_EQ(j["failed_allocations"], 0);
}

// timer_reads counts what the loop reads to measure: one read to start each
// timed chain and one to end each of its intervals (batches, sampled ops);
// with access on, one or two more for each chain whose access is timed.
TEST(Replay, TimerReadsAreOneAChainAndOneAnIntervalPlusTheTimedAccess) {
  auto t = model("http-api", 2);
  Plan plan = make_plan(t, 16, 1);
  std::uint64_t chains = 0, intervals = 0;
  for (std::size_t th = 0; th < plan.threads.size(); ++th)
    for (const Chain& c : plan.chains[th]) {
      if (plan.threads[th][c.begin].batch == 0) continue;
      ++chains;
      for (std::uint32_t j = c.begin; j < c.end; j += plan.threads[th][j].batch) ++intervals;
    }
  ASSERT_GT(intervals, chains);
  auto run = [&](Touch touch) {
    CellOptions o;
    o.touch = touch;
    auto j = replay_cell<NullBackend>([] { return std::make_unique<NullBackend>(); }, plan, o, calibration());
    EXPECT_EQ(j["status"], "ok");
    return j["timer_reads"].get<std::uint64_t>();
  };
  EXPECT_EQ(run(Touch::none), chains + intervals);
  std::uint64_t with_access = run(Touch::pages);
  EXPECT_GT(with_access, chains + intervals) << "some chains' access is timed";
  // About 1 chain in 8 is timed, at most two reads each.
  EXPECT_LE(with_access, chains + intervals + 2 * (chains / 4));
}

// The untimed replay (replay.hpp, "Untimed") is the floor under the timed
// one only if it does the same work: the same calls, the same blocks filled
// and read; and it measures nothing but the threads' wall time.
TEST(Replay, UntimedReplayMakesTheSameCallsAndAccessWithNoTimerRead) {
  auto t = model("http-api", 2);
  auto info = trace::analyze(t);
  Plan plan = make_plan(t, 16, 1);
  auto replay = [&](auto timed) {
    Counting backend;
    Replayer<Counting> r(plan, {&backend}, calibration(), {});
    ReplayResult res = r.template run<decltype(timed)::value>();
    r.drain();
    EXPECT_EQ(backend.allocs.load(), info.count(trace::OpKind::alloc) + info.count(trace::OpKind::realloc));
    EXPECT_EQ(backend.frees.load(), backend.allocs.load());
    EXPECT_EQ(backend.live_bytes.load(), 0u);
    return res;
  };
  ReplayResult timed = replay(std::true_type{}), untimed = replay(std::false_type{});
  ASSERT_EQ(untimed.threads.size(), 2u);
  for (std::size_t th = 0; th < 2; ++th) {
    const ThreadResult &a = timed.threads[th], &u = untimed.threads[th];
    for (int c = 0; c < kTimedClasses; ++c) {
      EXPECT_EQ(u.ops[c], a.ops[c]) << "thread " << th << " class " << c;
      EXPECT_EQ(u.signed_ticks[c], 0) << "nothing timed";
      EXPECT_EQ(u.latency[c].count(), 0u) << "no sample";
    }
    EXPECT_GT(u.fill_blocks, 0u);
    EXPECT_EQ(u.fill_blocks, a.fill_blocks);
    EXPECT_EQ(u.read_blocks, a.read_blocks);
    EXPECT_EQ(u.timer_reads, 0u);
    EXPECT_EQ(u.fill_timed_blocks + u.read_timed_blocks, 0u);
    EXPECT_EQ(u.failed, 0u);
    EXPECT_GT(u.wall_ticks, 0u);
  }
  EXPECT_GT(untimed.busy_seconds, 0.0);
}

// A backend's limit that refuses a scope (every region busy) turns the
// request away: its allocations are counted as refused and never reach the
// backend, its children are refused with it, and the replay goes on.
TEST(Replay, RefusedScopeTurnsTheRequestAway) {
  trace::TraceBuilder tb(1);
  auto conn = tb.open(0, trace::ScopeKind::connection);
  auto first = tb.open(0, trace::ScopeKind::request, conn);
  tb.alloc(0, 100, first);
  auto second = tb.open(0, trace::ScopeKind::request, conn);  // no region left
  tb.alloc(0, 200, second);
  tb.alloc(0, 300, second);
  auto child = tb.open(0, trace::ScopeKind::child, second);
  tb.alloc(0, 50, child);
  tb.close(0, child);
  tb.close(0, second);
  tb.close(0, first);
  auto third = tb.open(0, trace::ScopeKind::request, conn);  // the region is free again
  tb.alloc(0, 400, third);
  tb.close(0, third);
  tb.close(0, conn);
  auto t = tb.finish("{}");
  bool ran = false;
  with_registration("fixed-regions", [&](const auto& reg) {
    using B = typename std::remove_cvref_t<decltype(*reg.make({}))>;
    BackendOptions one = BackendOptions::parse("regions=1");
    Plan plan = make_plan(t, 16, 1);
    auto j = replay_cell<B>([&] { return reg.make(one); }, plan, {}, calibration());
    ran = true;
    ASSERT_EQ(j["status"], "ok") << j.dump();
    EXPECT_EQ(j["refused_scope_allocations"], 3);
    EXPECT_EQ(j["failed_allocations"], 0);
    EXPECT_EQ(j["backend_stats"]["rejections"], 1);
    EXPECT_EQ(j["backend_stats"]["in_use_bytes"], 0);
  });
  EXPECT_TRUE(ran);
}

// The null backend serves blocks larger than its ring, and a realloc that
// outgrows a large block copies out of it safely.
TEST(Replay, NullBackendServesLargeBlocksAndTheirReallocs) {
  trace::TraceBuilder tb(1);
  auto a = tb.alloc(0, 1u << 20);
  tb.realloc(0, a, 8u << 20);
  tb.realloc(0, a, 64u << 20);
  auto b = tb.alloc(0, 48);
  tb.realloc(0, b, 4096);
  tb.free(0, a);
  tb.free(0, b);
  CellOptions all;
  all.touch = Touch::all;
  auto j = replay_with<NullBackend>(tb.finish("{}"), all);
  ASSERT_EQ(j["status"], "ok") << j.dump();
  EXPECT_EQ(j["failed_allocations"], 0);
  EXPECT_EQ(j["ops_by_class"]["realloc"], 3);
}
