// The replay loop, instantiated per backend type: no virtual call per op.
//
// Each trace thread runs on its own std::thread; all start together. A
// thread executes its steps in order; a wait spins (then yields) until its
// edge is signalled, so a free never overtakes its allocation.
//
// Timing. Consecutive steps of one class (alloc, free, realloc, scope open,
// scope close) charged to one request run as a batch between two timer
// reads; the pair's measured overhead is subtracted once per batch. That
// gives the means. A sampled step (1 in N) runs alone between two reads,
// overhead subtracted, into a log-linear histogram: that gives the tails.
// Waits, signals and think time are never timed.
// Threads share no line the loop writes unless the trace shares the block
// or scope: each thread's slots and scopes are numbered together by the
// plan, its time per request goes into an array of its own (merged after
// the join), and its ThreadResult and progress counters are cache-line
// aligned. Otherwise one thread's bookkeeping evicts a line another is
// about to use, and that miss lands inside the other's allocator interval.
// The plan groups the batches into chains, timed back to back, and lists
// each chain's frees and allocations (replay_plan.hpp: Chain, Access), so
// the loop scans no step to find them; the next chain's steps are
// prefetched while one runs, so a cache miss on the plan does not land in
// an allocator's interval.
//
// Access. Using the memory is timed apart from the allocator, as the
// application's time (`access`), so an allocator's placement shows in what
// it costs the code around it (cache and TLB misses, first-touch faults):
//   - fill: after a chain of batches, the blocks it allocated are written
//     as a server fills them (--touch below): every block's header first,
//     then their bodies; one interval per chain that allocated;
//   - read: before a chain that frees blocks, the blocks it will free are
//     read once more (a server's last use, e.g. writing a buffer out):
//     headers first, then bodies, one byte in each cache line of the header
//     and in each page (--touch all: each line) of the body the fill wrote,
//     so every line the fill dirtied there is fetched again; one interval
//     per chain that frees.
// One chain in kAccessTimedOneIn (chosen by a per-thread generator, apart
// from the latency samples) has its fill and its read timed; every chain
// does both. The time per block of the timed chains, times every block,
// estimates the whole (two timer reads per chain would cost the harness
// more than the access it measures on small blocks).
// Each interval's timer overhead is subtracted as for the batches. Neither
// counts the ops themselves: `access` is beside `allocator`, not in it. A
// block allocated and freed inside one chain (the same request's batches
// back to back, at most kMaxBatch steps) is neither filled nor read: about
// 1% of http-api's blocks.
// With --touch none nothing is accessed and nothing timed.
//
// Touch. After a batch, the blocks it allocated are written as a server
// would write them (--touch). `pages` (the default) writes the first 64
// bytes (an object's header) and one byte in every further page: every
// page a server would fill becomes resident, so RSS is the footprint that
// `all` gives, without charging the replay for a memset of every byte
// (251 MiB for http1-static, more than glibc's own time). `all` writes every
// byte (cache effects of filling buffers included); `first` writes the first
// 64 bytes only (large buffers then stay partly unmapped); `none` nothing.
//
// Untimed. run<false>() is run() with no timer read inside the replay: the
// same chains, ops, fill and read before free and progress counters; only
// each thread's wall time, from its first step to its last, and its ops by
// class. Its busy time is the floor under any per-op timing of the trace:
// what replaying it costs before anything is measured (alloclab-worker
// --count wall; scripts/bench-harness.sh).
//
// Counting. count() is the replay without a clock, for counting
// instructions under Callgrind (alloclab run --count instructions): the
// same steps, batched by class and request as in run() (sampled steps not
// set apart), and nothing whose instructions depend on a value measured
// (no timer reads, no histogram, no timeline points, no think time).
// Callgrind collects only while the replaying thread has switched
// collection on: around its ops, not while it touches the blocks (touching
// is untimed above, so it is uncounted here; it still runs as --touch
// says, so the process does what a timed replay does). Natively the
// switches are no-ops.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <mutex>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "allocators/contract.hpp"
#include "harness/replay/clock.hpp"
#include "harness/replay/histogram.hpp"
#include "harness/replay/memory.hpp"
#include "harness/replay/replay_plan.hpp"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define ALLOCLAB_CALLGRIND_TOGGLE() CALLGRIND_TOGGLE_COLLECT
#else
// Built without valgrind's headers: nothing is ever collected, and the
// runner reports a cell that counted nothing.
#define ALLOCLAB_CALLGRIND_TOGGLE() ((void)0)
#endif

namespace alloclab::replay {

enum class Touch { none, first, pages, all };

// One chain's access in this many is timed (see "Access" above).
inline constexpr std::uint32_t kAccessTimedOneIn = 8;

// Think time above this is slept through (all but its last part), not spun.
inline constexpr std::uint32_t kSleepAboveNs = 200'000;

struct ReplayOptions {
  Touch touch = Touch::pages;
  std::uint64_t rss_samples = 200;  // points on the RSS timeline
  // Bytes the process allocator holds for its heap, read at each timeline
  // point (allocators/general/allocator_stats.hpp); nullptr for none.
  std::uint64_t (*heap_probe)() = nullptr;
  // Bytes in the allocator's per-thread caches, read at each timeline point
  // while the threads run; nullptr where the allocator does not say.
  std::uint64_t (*thread_cache_probe)() = nullptr;
  // Replay thread t runs on CPU pin_cpus[t % size] only (sched_setaffinity);
  // empty: wherever the scheduler puts it.
  std::vector<int> pin_cpus;
};

struct TimelinePoint {
  std::uint64_t ops;         // ops done over all threads (approximate across threads)
  std::uint64_t live_bytes;  // the trace's live bytes at that point
  std::uint64_t rss_bytes;
  double seconds;
  std::uint64_t heap_bytes;      // the process allocator's heap (0 without a probe)
  std::uint64_t reserved_bytes;  // the backend's upstream bytes (0 without statistics)
};

// Written by its replay thread as it goes; a cache line apart from the
// next thread's (they lie in one vector).
struct alignas(64) ThreadResult {
  // Batch time per class, the timer overhead subtracted once per batch (so
  // one batch may count below zero; the sum is unbiased).
  std::int64_t signed_ticks[kTimedClasses] = {};
  std::uint64_t ops[kTimedClasses] = {};
  Histogram latency[kTimedClasses];          // sampled, in ns
  std::uint64_t failed = 0;                   // allocations that returned nullptr
  // Allocations not made because their scope was refused (a backend's limit
  // returned Scope{} from open_scope: the server would turn the request away).
  std::uint64_t refused = 0;
  std::uint64_t wall_ticks = 0;               // from the start signal to the last step
  std::uint64_t wait_ticks = 0;               // spent blocked on edges
  std::uint64_t sampling_ticks = 0;           // spent taking timeline points
  int cpu_first = -1, cpu_last = -1;          // where it ran at its first and last step (sched_getcpu)
  bool pinned = false;                        // its affinity was set to one CPU
  // Access (see "Access" above): the blocks written after allocation (fill)
  // and read before free (read); of them, the blocks of the timed chains,
  // and their ticks net of the timer overhead.
  std::uint64_t fill_blocks = 0, read_blocks = 0;
  std::uint64_t fill_timed_blocks = 0, read_timed_blocks = 0;
  std::int64_t fill_ticks = 0, read_ticks = 0;
  std::uint64_t read_sink = 0;                // what the reads folded (kept so they happen)
  // Timer reads that measure (a chain's start, each interval's end, the
  // access of the timed chains): the harness's largest cost where a read is
  // slow. Waits, think time and timeline points are not counted.
  std::uint64_t timer_reads = 0;
};

struct ReplayResult {
  std::vector<ThreadResult> threads;
  std::vector<std::uint64_t> request_ticks;  // allocator time per request
  std::vector<TimelinePoint> timeline;
  double wall_seconds = 0;
  std::uint64_t peak_live_bytes = 0;  // seen at the timeline points
  // Time spent taking timeline points (reading RSS and the allocator's
  // counters, microseconds each for some allocators): inside wall_seconds,
  // outside every op's timing. Summed over threads.
  double sampling_seconds = 0;
  // The longest thread's wall time less its own sampling time: what
  // throughput is computed over, so the probes do not count against it.
  double busy_seconds = 0;
  // The most bytes the allocator's per-thread caches held at a timeline
  // point taken while the replay threads ran; -1 without a probe.
  std::int64_t peak_thread_cache_bytes = -1;
  // AnonHugePages (smaps_rollup) at the timeline point of highest RSS: read
  // whenever RSS passed its previous highest by 2 MiB or more, the last
  // such reading kept; with the RSS it was read at. 0 where unreadable.
  std::uint64_t anon_huge_bytes_at_peak = 0;
  std::uint64_t rss_at_anon_huge_read = 0;
};

namespace detail {

struct alignas(64) Padded {
  std::atomic<std::uint64_t> ops{0};
  std::atomic<std::int64_t> live{0};
  // The thread's backend's reserved bytes, published by the thread itself
  // (a backend that is not thread-safe may only be read by its owner).
  std::atomic<std::uint64_t> reserved{0};
};

// No field is a char type: a store to one may alias anything, and would make
// the compiler reload the backend's own state after every step.
struct Slot {
  void* p = nullptr;
  std::uint32_t size = 0;
  std::uint16_t align_log2 = 0;
  std::uint16_t owner = 0;  // the thread whose backend instance allocated it
  std::size_t align() const { return std::size_t{1} << align_log2; }
};

// Writes 0xA5 to the first min(n, 64) bytes: a block's header, as a server
// fills it. Stores of 16 bytes (overlapping where n is not a multiple of
// 16), rather than a call to memset, whose dispatch costs more than the
// stores for these sizes.
inline void write_head(void* p, std::size_t n) noexcept {
  constexpr std::uint64_t kPattern = 0xA5A5A5A5A5A5A5A5ull;
  static constexpr std::uint64_t kWide[2] = {kPattern, kPattern};
  auto* c = static_cast<char*>(p);
  if (n >= 64) {
    for (std::size_t off = 0; off < 64; off += 16) std::memcpy(c + off, kWide, 16);
  } else if (n >= 16) {
    std::memcpy(c, kWide, 16);
    if (n > 32) std::memcpy(c + 16, kWide, 16), std::memcpy(c + n - 32, kWide, 16);
    std::memcpy(c + n - 16, kWide, 16);
  } else if (n >= 8) {
    std::memcpy(c, &kPattern, 8);
    std::memcpy(c + n - 8, &kPattern, 8);
  } else {
    for (std::size_t off = 0; off < n; ++off) c[off] = char(0xA5);
  }
}

// The bytes after the header that a touch of `mode` writes: one in every
// further page (pages) or all of them (all); first writes none.
inline void write_body(void* p, std::size_t n, Touch mode) noexcept {
  if (!p || n <= 64) return;
  auto* c = static_cast<char*>(p);
  if (mode == Touch::all) {
    std::memset(c + 64, 0xA5, n - 64);
    return;
  }
  if (mode != Touch::pages) return;
  constexpr std::size_t kPage = 4096;
  auto* v = static_cast<volatile char*>(p);
  for (std::size_t off = kPage - reinterpret_cast<std::uintptr_t>(p) % kPage; off < n; off += kPage) v[off] = char(0xA5);
}

// Reads what write_head wrote (the first min(n, 64) bytes) as a cache sees
// it: one byte of each line the header lies in (its first and its last
// byte; a line is fetched whole), folded into a value the caller keeps, so
// the loads cannot be dropped.
inline std::uint64_t read_head(const void* p, std::size_t n) noexcept {
  auto* c = static_cast<const volatile unsigned char*>(p);
  std::size_t end = n < 64 ? n : 64;
  if (end == 0) return 0;
  return std::uint64_t{c[0]} + c[end - 1];
}

// Reads what write_body wrote: one byte of every further page (pages) or
// one of every further cache line (all: the line is fetched whole).
inline std::uint64_t read_body(const void* p, std::size_t n, Touch mode) noexcept {
  if (n <= 64 || (mode != Touch::pages && mode != Touch::all)) return 0;
  auto* c = static_cast<const volatile unsigned char*>(p);
  std::uint64_t acc = 0;
  if (mode == Touch::all) {
    for (std::size_t off = 64; off < n; off += 64) acc += c[off];
    return acc;
  }
  constexpr std::size_t kPage = 4096;
  for (std::size_t off = kPage - reinterpret_cast<std::uintptr_t>(p) % kPage; off < n; off += kPage) acc += c[off];
  return acc;
}

inline void touch(void* p, std::size_t n, Touch mode) noexcept {
  if (!p || n == 0 || mode == Touch::none) return;
  if (mode == Touch::all) {
    std::memset(p, 0xA5, n);
    return;
  }
  write_head(p, n);
  if (mode == Touch::first) return;
  constexpr std::size_t kPage = 4096;
  auto* c = static_cast<volatile char*>(p);
  for (std::size_t off = kPage - reinterpret_cast<std::uintptr_t>(p) % kPage; off < n; off += kPage) c[off] = char(0xA5);
}

// Realloc where the backend has none: allocate, copy, free (what realloc
// does when it cannot grow in place).
template <class B>
struct ScopeHandle {
  using type = char;
};
template <ScopedBackend B>
struct ScopeHandle<B> {
  using type = typename B::Scope;
};

// Switches Callgrind's collection on or off for the calling thread
// (Callgrind keeps that state per thread); a no-op natively.
inline void toggle_collection() noexcept { ALLOCLAB_CALLGRIND_TOGGLE(); }

template <class B>
concept Reallocates = requires(B& b, void* p, std::size_t n) {
  { b.reallocate(p, n, n, n) } noexcept -> std::same_as<void*>;
};

}  // namespace detail

template <Backend B>
class Replayer {
 public:
  // backends: one shared instance (thread-safe backends) or one per thread.
  Replayer(const Plan& plan, std::vector<B*> backends, const ClockCalibration& clock, ReplayOptions opt)
      : plan_(plan), backends_(std::move(backends)), clock_(clock), opt_(opt),
        slots_(plan.slot_count), edges_(plan.edge_count), progress_(plan.threads.size()),
        refused_count_(plan.threads.size()) {
    if constexpr (ScopedBackend<B>) scopes_.resize(plan.scope_count);
    // Each thread's allocator time per request, an array of its own (a
    // cache line apart from the next), allocated here and not by the
    // replay threads, whose first allocations are the trace's.
    request_ticks_.resize(plan.threads.size());
    for (std::size_t th = 0; th < plan.threads.size(); ++th)
      request_ticks_[th].assign(plan.requests[th].size() + 1 + 8, 0);
    for (auto& e : edges_) e.store(0, std::memory_order_relaxed);
    sample_every_ = opt.rss_samples ? std::max<std::uint64_t>(1, plan.ops / opt.rss_samples) : UINT64_MAX;
    next_sample_.store(sample_every_);
    // Each thread looks at the others' progress only every few of its own
    // batches' worth of ops, not after every batch: reading their counters
    // pulls their cache lines.
    check_stride_ = std::max<std::uint64_t>(1, sample_every_ / (4 * std::max<std::size_t>(1, plan.threads.size())));
  }

  // kTimed false: the same replay with no timer read inside it (see
  // "Untimed" above); only each thread's wall time and its op counts.
  template <bool kTimed = true>
  ReplayResult run() {
    ReplayResult r;
    r.threads.resize(plan_.threads.size());
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (std::uint32_t th = 0; th < plan_.threads.size(); ++th)
      pool.emplace_back([&, th] {
        if (!opt_.pin_cpus.empty()) r.threads[th].pinned = pin_to(opt_.pin_cpus[th % opt_.pin_cpus.size()]);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        r.threads[th].cpu_first = ::sched_getcpu();
        run_thread<kTimed>(th, r.threads[th]);
        r.threads[th].cpu_last = ::sched_getcpu();
      });
    sample(0);  // the timeline's first point: nothing replayed yet
    start_ = ticks();
    go.store(true, std::memory_order_release);
    for (auto& t : pool) t.join();
    threads_done_ = true;
    r.wall_seconds = static_cast<double>(ticks() - start_) * clock_.ns_per_tick / 1e9;
    r.request_ticks.assign(plan_.request_count, 0);
    for (std::size_t th = 0; th < plan_.threads.size(); ++th)
      for (std::size_t i = 0; i < plan_.requests[th].size(); ++i)
        r.request_ticks[plan_.requests[th][i] - 1] += request_ticks_[th][i + 1];
    sample(r.wall_seconds);
    r.timeline = std::move(timeline_);
    r.peak_thread_cache_bytes = peak_thread_cache_;
    r.anon_huge_bytes_at_peak = anon_huge_at_peak_;
    r.rss_at_anon_huge_read = rss_at_huge_read_;
    std::uint64_t busy = 0, sampling = 0;
    for (const auto& t : r.threads) {
      busy = std::max(busy, t.wall_ticks - std::min(t.wall_ticks, t.sampling_ticks));
      sampling += t.sampling_ticks;
    }
    r.busy_seconds = static_cast<double>(busy) * clock_.ns_per_tick / 1e9;
    r.sampling_seconds = static_cast<double>(sampling) * clock_.ns_per_tick / 1e9;
    for (const auto& p : r.timeline) r.peak_live_bytes = std::max(r.peak_live_bytes, p.live_bytes);
    return r;
  }

  // The untimed replay (see "Counting" above): each thread's ops, failed
  // and refused counts; no times, no timeline. Meant for one thread: with
  // several, how often a wait spins would be counted.
  ReplayResult count() {
    ReplayResult r;
    r.threads.resize(plan_.threads.size());
    // On threads of their own, as in run(): an allocator serves a new
    // thread from other structures than the main thread (glibc from an
    // arena of its own).
    std::vector<std::thread> pool;
    for (std::uint32_t th = 0; th < plan_.threads.size(); ++th)
      pool.emplace_back([&, th] { count_thread(th, r.threads[th]); });
    for (auto& t : pool) t.join();
    return r;
  }

  // Frees every block still live (a trace may leave some), so the backend
  // can be destroyed cleanly. Not timed.
  void drain() {
    for (auto& s : slots_)
      if (s.p) backend(s.owner).deallocate(s.p, s.size, s.align()), s.p = nullptr;
  }

 private:
  B& backend(std::uint32_t th) { return *backends_[backends_.size() == 1 ? 0 : th]; }

  // Binds the calling thread to one CPU; false if the kernel refused.
  static bool pin_to(int cpu) noexcept {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
  }

  // Whether the step's scope was refused by the backend: its handle is the
  // Scope{} open_scope returned (the same load allocate() makes next).
  bool refused(const Step& s) const noexcept {
    if constexpr (ScopedBackend<B>) return s.scope && scopes_[s.scope - 1] == typename B::Scope{};
    return false;
  }
  // An allocation in a refused scope is not made: the server turned the
  // request away.
  bool turn_away(detail::Slot& slot, const Step& s, std::uint32_t th) noexcept {
    slot.p = nullptr;
    slot.size = s.b;
    ++refused_count_[th].n;
    return true;
  }

  void* allocate(B& b, const Step& s) noexcept {
    std::size_t align = s.align_log2 ? std::size_t{1} << s.align_log2 : 1;
    if constexpr (ScopedBackend<B>) {
      if (s.scope) return b.allocate(scopes_[s.scope - 1], s.b, align);
    }
    return b.allocate(s.b, align);
  }
  void deallocate(B& b, const Step& s, detail::Slot& slot) noexcept {
    if constexpr (ScopedBackend<B>) {
      if (s.scope) {
        b.deallocate(scopes_[s.scope - 1], slot.p, slot.size, slot.align());
        return;
      }
    }
    b.deallocate(slot.p, slot.size, slot.align());
  }

  // One step; returns false when the allocation failed. Always inlined: into
  // the timed loop (a call per op would be harness time) and into the counted
  // one (so its instruction count does not depend on the compiler's choice).
  [[gnu::always_inline]] bool exec(B& b, const Step& s, std::uint32_t th) noexcept {
    using trace::OpKind;
    detail::Slot& slot = slots_[s.a];
    switch (s.kind) {
      case OpKind::alloc:
        slot.owner = static_cast<std::uint16_t>(th);
        if (refused(s)) [[unlikely]] return turn_away(slot, s, th);
        slot.p = allocate(b, s);
        slot.size = s.b;
        slot.align_log2 = s.align_log2;
        return slot.p != nullptr;
      case OpKind::free:
        if (slot.p) deallocate(b, s, slot);
        slot.p = nullptr;
        return true;
      case OpKind::release:
        // A region's close frees the block; a general allocator frees it now.
        if constexpr (!ScopedBackend<B>) {
          if (slot.p) deallocate(b, s, slot);
        }
        slot.p = nullptr;
        return true;
      case OpKind::realloc: {
        void* q = nullptr;
        if constexpr (detail::Reallocates<B>) {
          if (!s.scope) q = b.reallocate(slot.p, slot.size, s.b, slot.align());
          if (!s.scope) {
            if (q || s.b == 0) slot.p = q, slot.size = s.b;
            return q != nullptr;
          }
        }
        if (refused(s)) [[unlikely]] return turn_away(slot, s, th);
        Step as_alloc = s;
        as_alloc.align_log2 = slot.align_log2;
        q = allocate(b, as_alloc);
        // memmove: the null backend's blocks may overlap (nothing else's do).
        if (q && slot.p) std::memmove(q, slot.p, std::min<std::uint32_t>(slot.size, s.b));
        if (q && slot.p) deallocate(b, s, slot);
        if (q) slot.p = q, slot.size = s.b;
        return q != nullptr;
      }
      case OpKind::open:
        if constexpr (ScopedBackend<B>) {
          // A scope inside a refused one is refused with it, unasked.
          if (refused(s)) {
            scopes_[s.a] = typename B::Scope{};
            return true;
          }
          scopes_[s.a] = b.open_scope(static_cast<ScopeKind>(plan_.scope_kinds[s.a]),
                                      s.scope ? scopes_[s.scope - 1] : typename B::Scope{});
        }
        return true;
      case OpKind::close:
        if constexpr (ScopedBackend<B>) {
          if (scopes_[s.a] != typename B::Scope{}) b.close_scope(scopes_[s.a]);
        }
        return true;
      default:
        return true;
    }
  }

  // Untimed work after a batch: write the new blocks as a server would.
  void after(const Step& s) noexcept {
    if (s.kind == trace::OpKind::alloc || s.kind == trace::OpKind::realloc) {
      const detail::Slot& slot = slots_[s.a];
      detail::touch(slot.p, slot.size, opt_.touch);
    }
  }

  template <bool kTimed>
  void run_thread(std::uint32_t th, ThreadResult& out) {
    const std::vector<Step>& steps = plan_.threads[th];
    const std::vector<Chain>& chains = plan_.chains[th];
    const std::uint32_t* reads = plan_.access[th].reads.data();
    const std::uint32_t* fills = plan_.access[th].fills.data();
    B& b = backend(th);
    std::uint64_t* requests = request_ticks_[th].data();
    const std::uint64_t overhead = static_cast<std::uint64_t>(clock_.overhead_ticks + 0.5);
    const bool touching = opt_.touch != Touch::none;
    detail::Padded& mine = progress_[th];
    std::int64_t live = 0;
    std::uint64_t done = 0;
    std::uint64_t next_check = check_stride_;
    std::uint64_t t_begin = ticks();
    // Timer reads and which step each chained interval starts at.
    std::uint64_t stamp[kMaxBatch + 1];
    std::uint64_t access_rng = 0x9E3779B97F4A7C15ull * (th + 1) ^ plan_.ops;
    std::size_t first[kMaxBatch + 1];
    for (std::size_t c = 0; c < chains.size(); ++c) {
      const Chain& ch = chains[c];
      const Step& s = steps[ch.begin];
      if (s.batch == 0) [[unlikely]] {  // untimed: a wait, a signal, a think
        switch (s.kind) {
          case trace::OpKind::wait: {
            std::uint64_t w0 = ticks();
            for (unsigned spin = 0; !edges_[s.a].load(std::memory_order_acquire); ++spin)
              if (spin > 64) std::this_thread::yield();
            out.wait_ticks += ticks() - w0;
            break;
          }
          case trace::OpKind::signal:
            edges_[s.a].store(1, std::memory_order_release);
            break;
          case trace::OpKind::think: {
            std::uint64_t until = ticks() + static_cast<std::uint64_t>(s.b / clock_.ns_per_tick);
            // A paced trace's think (milliseconds) sleeps, leaving the core to
            // other threads; the last stretch, and every short think, spins.
            if (s.b > kSleepAboveNs) std::this_thread::sleep_for(std::chrono::nanoseconds(s.b - kSleepAboveNs / 2));
            while (ticks() < until) {
            }
            break;
          }
          default:
            break;
        }
        continue;
      }
      // The next chain's steps are fetched while this one runs, so its ops
      // find them in cache: a miss on the trace is not the allocator's time.
      if (c + 1 < chains.size()) prefetch_steps(steps, chains[c + 1]);
      // A chain of timed intervals (replay_plan.hpp): the batches the plan
      // marked (a sampled step is a batch of its own), back to back, one
      // timer read between each two. Each interval is charged to its own
      // class and request; the chain's access (its frees read before, its
      // new blocks filled after) is outside every interval.
      std::size_t j = ch.begin;
      std::uint64_t failed = 0;
      if constexpr (!kTimed) {
        if (touching && ch.frees) read_before_free<false>(reads, ch, out, overhead, false);
        for (; j < ch.end; ++j) failed += !exec(b, steps[j], th);
        if (touching && ch.allocs) fill(fills, ch, 0, out, overhead, false);
        out.failed += failed;
      } else {
        int k = 0;
        // Whether this chain's access is timed: a draw of xorshift64.
        access_rng ^= access_rng << 13, access_rng ^= access_rng >> 7, access_rng ^= access_rng << 17;
        const bool time_access = access_rng % kAccessTimedOneIn == 0;
        stamp[0] = touching && ch.frees ? read_before_free(reads, ch, out, overhead, time_access) : ticks();
        do {
          first[k] = j;
          const std::size_t end = j + steps[j].batch;
          for (; j < end; ++j) failed += !exec(b, steps[j], th);
          stamp[++k] = ticks();
        } while (j < ch.end);
        first[k] = j;
        out.timer_reads += 1 + static_cast<std::uint64_t>(k);
        if (touching && ch.allocs) fill(fills, ch, stamp[k], out, overhead, time_access);
        out.failed += failed;
        for (int m = 0; m < k; ++m) {
          const Step& h = steps[first[m]];
          std::uint64_t d = stamp[m + 1] - stamp[m];
          if (h.sampled) {
            std::uint64_t net = d > overhead ? d - overhead : 0;
            out.latency[static_cast<int>(h.cls)].record(
                static_cast<std::uint64_t>(static_cast<double>(net) * clock_.ns_per_tick));
          }
          charge(out, requests, h, d, overhead, first[m + 1] - first[m]);
        }
      }
      live += ch.live_delta;
      done += ch.end - ch.begin;
      mine.ops.store(done, std::memory_order_relaxed);
      mine.live.store(live, std::memory_order_relaxed);
      if (done >= next_check) {
        next_check = done + check_stride_;
        publish_reserved(th, mine);
        out.sampling_ticks += maybe_sample();
      }
    }
    out.wall_ticks = ticks() - t_begin;
    // The untimed replay counts its ops by class after its time is taken:
    // counting is measuring, and stays out of the floor.
    if constexpr (!kTimed)
      for (const Step& s : steps)
        if (s.batch != 0) out.ops[static_cast<int>(s.cls)] += s.batch;
    out.refused = refused_count_[th].n;
    publish_reserved(th, mine);
    mine.ops.store(done, std::memory_order_relaxed);
  }

  // Asks for a chain's steps to be brought into cache (one prefetch a line).
  static void prefetch_steps(const std::vector<Step>& steps, const Chain& ch) noexcept {
    const char* p = reinterpret_cast<const char*>(steps.data() + ch.begin);
    const char* e = reinterpret_cast<const char*>(steps.data() + ch.end);
    for (; p < e; p += 64) __builtin_prefetch(p);
  }

  // The access read before chain `ch`: every block it will free, still live,
  // read (headers, then bodies) and timed if `timed`. Returns the last timer
  // read, which starts the chain.
  template <bool kClock = true>
  std::uint64_t read_before_free(const std::uint32_t* reads, const Chain& ch, ThreadResult& out,
                                 std::uint64_t overhead, bool timed) noexcept {
    std::size_t blocks = 0;
    bool bodies = false;
    std::uint64_t acc = 0, r0 = 0;
    const std::uint32_t* begin = reads + ch.read_at;
    const std::uint32_t* end = begin + ch.frees;
    for (const std::uint32_t* q = begin; q < end; ++q) {
      const detail::Slot& s = slots_[*q];
      if (!s.p) continue;
      if (blocks++ == 0 && timed) r0 = ticks();  // from the first block read: finding it is not access
      acc += detail::read_head(s.p, s.size);
      bodies |= s.size > 64;
    }
    out.read_blocks += blocks;
    if (bodies && opt_.touch != Touch::first)
      for (const std::uint32_t* q = begin; q < end; ++q)
        if (const detail::Slot& s = slots_[*q]; s.p) acc += detail::read_body(s.p, s.size, opt_.touch);
    out.read_sink += acc;
    if constexpr (!kClock) return 0;
    std::uint64_t r1 = ticks();
    if (blocks == 0 || !timed) return r1;
    ++out.timer_reads;  // r0 (r1 starts the chain, counted there)
    out.read_ticks += static_cast<std::int64_t>(r1 - r0) - static_cast<std::int64_t>(overhead);
    out.read_timed_blocks += blocks;
    return r1;
  }

  // The fill after chain `ch`, whose last timer read was `t0`: the blocks it
  // allocated written as --touch says, headers first, then bodies; timed if
  // `timed` and there was any.
  void fill(const std::uint32_t* fills, const Chain& ch, std::uint64_t t0, ThreadResult& out,
            std::uint64_t overhead, bool timed) noexcept {
    std::size_t blocks = 0;
    bool bodies = false;
    const std::uint32_t* begin = fills + ch.fill_at;
    const std::uint32_t* end = begin + ch.allocs;
    for (const std::uint32_t* q = begin; q < end; ++q) {
      const detail::Slot& slot = slots_[*q];
      if (!slot.p || slot.size == 0) continue;
      detail::write_head(slot.p, slot.size);
      bodies |= slot.size > 64;
      ++blocks;
    }
    if (blocks == 0) return;
    if (bodies && opt_.touch != Touch::first)
      for (const std::uint32_t* q = begin; q < end; ++q) detail::write_body(slots_[*q].p, slots_[*q].size, opt_.touch);
    out.fill_blocks += blocks;
    if (!timed) return;
    ++out.timer_reads;
    out.fill_ticks += static_cast<std::int64_t>(ticks() - t0) - static_cast<std::int64_t>(overhead);
    out.fill_timed_blocks += blocks;
  }

  // run_thread() without the clock: batches as there, collection on
  // around them and off while their blocks are touched.
  void count_thread(std::uint32_t th, ThreadResult& out) {
    const std::vector<Step>& steps = plan_.threads[th];
    B& b = backend(th);
    const bool touching = opt_.touch != Touch::none;
    std::size_t i = 0;
    const std::size_t n = steps.size();
    detail::toggle_collection();
    while (i < n) {
      const Step& s = steps[i];
      if (s.kind == trace::OpKind::wait) {
        for (unsigned spin = 0; !edges_[s.a].load(std::memory_order_acquire); ++spin)
          if (spin > 64) std::this_thread::yield();
        ++i;
        continue;
      }
      if (s.kind == trace::OpKind::signal) edges_[s.a].store(1, std::memory_order_release);
      // Think time is time, not work: nothing to count.
      if (s.kind == trace::OpKind::signal || s.kind == trace::OpKind::think || s.cls == OpClass::none) {
        ++i;
        continue;
      }
      std::size_t j = i;
      do {
        out.failed += !exec(b, steps[j], th);
        ++j;
      } while (j < n && j - i < kMaxBatch && steps[j].cls == s.cls && steps[j].request == s.request &&
               steps[j].kind != trace::OpKind::wait);
      out.ops[static_cast<int>(s.cls)] += j - i;
      if (touching) {
        detail::toggle_collection();
        for (std::size_t k = i; k < j; ++k) after(steps[k]);
        detail::toggle_collection();
      }
      i = j;
    }
    detail::toggle_collection();
    out.refused = refused_count_[th].n;
  }

  // One instance per thread: each thread reports its own. One shared
  // (thread-safe) instance: thread 0 reports it.
  void publish_reserved(std::uint32_t th, detail::Padded& mine) {
    if constexpr (HasStats<B>) {
      if (backends_.size() > 1 || th == 0) mine.reserved.store(backend(th).stats().reserved_bytes, std::memory_order_relaxed);
    }
  }

  void charge(ThreadResult& out, std::uint64_t* requests, const Step& s, std::uint64_t d, std::uint64_t overhead,
              std::size_t count) {
    int c = static_cast<int>(s.cls);
    std::int64_t net = static_cast<std::int64_t>(d) - static_cast<std::int64_t>(overhead);
    out.signed_ticks[c] += net;
    out.ops[c] += count;
    if (s.request) requests[s.request] += net > 0 ? static_cast<std::uint64_t>(net) : 0;
  }

  // Takes a timeline point if one is due; returns the ticks it took.
  std::uint64_t maybe_sample() {
    std::uint64_t total = 0;
    for (auto& p : progress_) total += p.ops.load(std::memory_order_relaxed);
    std::uint64_t due = next_sample_.load(std::memory_order_relaxed);
    if (total < due) return 0;
    if (!next_sample_.compare_exchange_strong(due, due + sample_every_)) return 0;
    std::uint64_t t0 = ticks();
    sample(static_cast<double>(t0 - start_) * clock_.ns_per_tick / 1e9);
    return ticks() - t0;
  }

  void sample(double seconds) {
    std::uint64_t total = 0, reserved = 0;
    std::int64_t live = 0;
    for (auto& p : progress_) {
      total += p.ops.load(std::memory_order_relaxed);
      live += p.live.load(std::memory_order_relaxed);
      reserved += p.reserved.load(std::memory_order_relaxed);
    }
    std::uint64_t rss = rss_.rss_bytes();
    std::uint64_t heap = opt_.heap_probe ? opt_.heap_probe() : 0;
    std::int64_t cache = opt_.thread_cache_probe && seconds > 0 && !threads_done_
                             ? static_cast<std::int64_t>(opt_.thread_cache_probe())
                             : -1;
    std::lock_guard lock(timeline_mutex_);
    if (rss >= rss_at_huge_read_ + (std::uint64_t{2} << 20) || rss_at_huge_read_ == 0) {
      anon_huge_at_peak_ = anon_huge_bytes();
      rss_at_huge_read_ = rss;
    }
    peak_thread_cache_ = std::max(peak_thread_cache_, cache);
    timeline_.push_back({total, live > 0 ? static_cast<std::uint64_t>(live) : 0, rss, seconds, heap, reserved});
  }

  const Plan& plan_;
  std::vector<B*> backends_;
  ClockCalibration clock_;
  ReplayOptions opt_;
  std::vector<detail::Slot> slots_;
  // Per scope, written by its thread only; Scope{} while refused.
  std::vector<typename detail::ScopeHandle<B>::type> scopes_;
  std::vector<std::atomic<std::uint8_t>> edges_;
  std::vector<detail::Padded> progress_;
  std::vector<std::vector<std::uint64_t>> request_ticks_;  // per thread, by its request numbers
  struct alignas(64) Count {
    std::uint64_t n = 0;
  };
  std::vector<Count> refused_count_;  // per thread
  std::uint64_t sample_every_ = 0;
  std::uint64_t check_stride_ = 1;
  std::atomic<std::uint64_t> next_sample_{0};
  std::uint64_t start_ = 0;
  RssProbe rss_;
  std::mutex timeline_mutex_;
  std::vector<TimelinePoint> timeline_;
  std::int64_t peak_thread_cache_ = -1;
  std::uint64_t anon_huge_at_peak_ = 0, rss_at_huge_read_ = 0;
  bool threads_done_ = false;  // set after the join: the last point reads no thread caches
};

}  // namespace alloclab::replay
