// Walks a trace in one canonical interleaving and checks every rule of
// trace.hpp on the way. The interleaving is round-robin: each thread in turn
// runs one op, a thread blocked on a wait is skipped until its edge is
// signalled. That is how the threads of a replay would run at equal speed,
// so figures measured along it (peak live bytes, lifetimes) are those of an
// ideal parallel replay.
//
// walk() throws OpFault (thread, index, problem) at the first broken rule;
// readers turn that into a TraceError naming the byte offset or line. An
// observer sees each op after it was checked, with the state it needs.
// Memory is bounded by the trace's own counts (slots, scopes, edges,
// threads^2), which the readers bound by the file size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/trace.hpp"
#include "workloads/trace_error.hpp"

namespace alloclab::trace {

struct SlotState {
  std::uint32_t size = 0;
  std::uint32_t scope = kNoScope;  // scope id + 1
  std::uint32_t thread = 0;        // last thread to touch it
  bool live = false;
  bool ever = false;               // allocated at least once
  std::uint32_t alloc_thread = 0;
  std::uint64_t stamp = 0;         // the toucher's signal count at the touch
  std::uint64_t alloc_tick = 0;    // walk position of the allocation
};

struct ScopeState {
  std::uint32_t thread = 0;
  std::uint32_t parent = kNoScope;  // id + 1
  ScopeKind kind = ScopeKind::connection;
  std::uint8_t state = 0;           // 0 never opened, 1 open, 2 closed
  std::uint32_t open_children = 0;
  std::uint64_t live_blocks = 0;
  std::uint32_t request = kNoScope;  // enclosing request scope id + 1 (itself for a request)
};

// The do-nothing observer: a plain check.
struct NoObserver {
  void on_alloc(std::uint32_t /*thread*/, const Op& /*op*/, const SlotState& /*slot*/, std::uint64_t /*tick*/) {}
  void on_free(std::uint32_t /*thread*/, const Op& /*op*/, const SlotState& /*slot_before*/, std::uint64_t /*tick*/) {}
  void on_realloc(std::uint32_t /*thread*/, const Op& /*op*/, std::uint32_t /*old_size*/, const SlotState& /*slot*/) {}
  void on_open(std::uint32_t /*thread*/, const Op& /*op*/, const ScopeState& /*scope*/) {}
  void on_close(std::uint32_t /*thread*/, const Op& /*op*/, const ScopeState& /*scope*/) {}
  void on_other(std::uint32_t /*thread*/, const Op& /*op*/) {}
};

class Walker {
 public:
  explicit Walker(const Trace& t) : t_(t) {}

  template <class Observer>
  void run(Observer& obs);

  std::uint64_t live_bytes() const { return live_bytes_; }
  const std::vector<SlotState>& slots() const { return slots_; }
  const std::vector<ScopeState>& scopes() const { return scopes_; }

 private:
  [[noreturn]] void fail(std::string problem) const { throw OpFault{cur_thread_, cur_index_, std::move(problem)}; }
  template <class Observer>
  bool step(std::uint32_t th, const Op& op, Observer& obs);  // false: blocked on a wait
  SlotState& slot_of(const Op& op);
  void check_handoff(const SlotState& s, std::uint32_t th, std::uint32_t id);
  void check_scoped_use(const SlotState& s, std::uint32_t th, std::uint32_t id);
  void touch(SlotState& s, std::uint32_t th) {
    s.thread = th;
    s.stamp = signals_[th];
  }

  const Trace& t_;
  std::vector<SlotState> slots_;
  std::vector<ScopeState> scopes_;
  std::vector<std::uint8_t> edge_state_;       // bit 0 signalled, bit 1 waited
  std::vector<std::uint32_t> edge_from_;       // signalling thread
  std::vector<std::uint64_t> edge_seq_;        // that thread's signal count after the signal
  std::vector<std::uint64_t> signals_;         // per thread: signals sent
  std::vector<std::uint64_t> received_;        // [to * T + from]: latest signal count seen
  std::uint32_t pending_release_ = kNoScope;   // scope id + 1 whose releases are running
  std::uint32_t cur_thread_ = 0;
  std::uint64_t cur_index_ = 0;
  std::uint64_t tick_ = 0;
  std::uint64_t live_bytes_ = 0;
};

// Checks every rule; throws OpFault.
void check(const Trace& t);

// ---------------------------------------------------------------------------

inline SlotState& Walker::slot_of(const Op& op) {
  if (op.a >= slots_.size())
    fail("slot " + std::to_string(op.a) + " out of range (the header declares " + std::to_string(slots_.size()) +
         " slots)");
  return slots_[op.a];
}

inline void Walker::check_handoff(const SlotState& s, std::uint32_t th, std::uint32_t id) {
  if (s.thread == th) return;
  std::size_t T = t_.threads.size();
  if (received_[th * T + s.thread] <= s.stamp)
    fail("slot " + std::to_string(id) + " was last touched on thread " + std::to_string(s.thread) +
         " and no edge orders that before this op on thread " + std::to_string(th));
}

inline void Walker::check_scoped_use(const SlotState& s, std::uint32_t th, std::uint32_t id) {
  if (s.scope == kNoScope) return;
  const ScopeState& sc = scopes_[s.scope - 1];
  if (sc.thread != th)
    fail("slot " + std::to_string(id) + " belongs to scope " + std::to_string(s.scope - 1) + " of thread " +
         std::to_string(sc.thread) + ", not this thread " + std::to_string(th));
}

template <class Observer>
bool Walker::step(std::uint32_t th, const Op& op, Observer& obs) {
  if (pending_release_ != kNoScope && op.kind != OpKind::release && op.kind != OpKind::close)
    fail("releases of scope " + std::to_string(pending_release_ - 1) + " must be followed by its close");
  auto zero = [&](bool align, bool aux, bool a, bool b, bool c) {
    if ((align && op.align_log2) || (aux && op.aux) || (a && op.a) || (b && op.b) || (c && op.c))
      fail(std::string(kind_name(op.kind)) + " op has a nonzero unused field");
  };
  switch (op.kind) {
    case OpKind::alloc: {
      zero(false, true, false, false, false);
      SlotState& s = slot_of(op);
      if (s.live) fail("alloc of slot " + std::to_string(op.a) + ", which is already live");
      if (op.b > kMaxSize) fail("alloc of " + std::to_string(op.b) + " bytes, above the limit of 1 GiB");
      if (op.align_log2 > kMaxAlignLog2)
        fail("alignment 2^" + std::to_string(op.align_log2) + " above the limit of 2^" + std::to_string(kMaxAlignLog2));
      if (s.ever) check_handoff(s, th, op.a);
      if (op.c != kNoScope) {
        if (op.c - 1 >= scopes_.size()) fail("alloc in scope " + std::to_string(op.c - 1) + ", out of range");
        ScopeState& sc = scopes_[op.c - 1];
        if (sc.state != 1) fail("alloc in scope " + std::to_string(op.c - 1) + ", which is not open");
        if (sc.thread != th)
          fail("alloc in scope " + std::to_string(op.c - 1) + " of thread " + std::to_string(sc.thread) +
               " from thread " + std::to_string(th));
        ++sc.live_blocks;
      }
      s.live = s.ever = true;
      s.size = op.b;
      s.scope = op.c;
      s.alloc_thread = th;
      s.alloc_tick = tick_;
      touch(s, th);
      live_bytes_ += op.b;
      obs.on_alloc(th, op, s, tick_);
      return true;
    }
    case OpKind::free:
    case OpKind::release: {
      zero(true, true, false, true, true);
      SlotState& s = slot_of(op);
      if (!s.live)
        fail(std::string(kind_name(op.kind)) + " of slot " + std::to_string(op.a) +
             (s.ever ? ", which is already freed" : ", which was never allocated"));
      check_handoff(s, th, op.a);
      check_scoped_use(s, th, op.a);
      if (op.kind == OpKind::release) {
        if (s.scope == kNoScope) fail("release of slot " + std::to_string(op.a) + ", which belongs to no scope");
        if (pending_release_ != kNoScope && pending_release_ != s.scope)
          fail("release of slot " + std::to_string(op.a) + " of scope " + std::to_string(s.scope - 1) +
               " among the releases of scope " + std::to_string(pending_release_ - 1));
        pending_release_ = s.scope;
      }
      obs.on_free(th, op, s, tick_);
      if (s.scope != kNoScope) --scopes_[s.scope - 1].live_blocks;
      s.live = false;
      touch(s, th);
      live_bytes_ -= s.size;
      return true;
    }
    case OpKind::realloc: {
      zero(true, true, false, false, true);
      SlotState& s = slot_of(op);
      if (!s.live)
        fail("realloc of slot " + std::to_string(op.a) + (s.ever ? ", which is already freed" : ", which was never allocated"));
      if (op.b > kMaxSize) fail("realloc to " + std::to_string(op.b) + " bytes, above the limit of 1 GiB");
      check_handoff(s, th, op.a);
      check_scoped_use(s, th, op.a);
      std::uint32_t old = s.size;
      live_bytes_ = live_bytes_ - old + op.b;
      s.size = op.b;
      touch(s, th);
      obs.on_realloc(th, op, old, s);
      return true;
    }
    case OpKind::open: {
      zero(true, false, false, true, false);
      if (op.a >= scopes_.size())
        fail("scope " + std::to_string(op.a) + " out of range (the header declares " + std::to_string(scopes_.size()) +
             " scopes)");
      if (op.aux > 2) fail("unknown scope kind " + std::to_string(op.aux));
      ScopeState& sc = scopes_[op.a];
      if (sc.state != 0) fail("scope " + std::to_string(op.a) + " opened twice");
      auto kind = static_cast<ScopeKind>(op.aux);
      sc.kind = kind;
      sc.thread = th;
      sc.parent = op.c;
      if (op.c != kNoScope) {
        if (op.c - 1 >= scopes_.size() || op.c - 1 == op.a)
          fail("scope " + std::to_string(op.a) + " has parent " + std::to_string(op.c - 1) + ", out of range");
        ScopeState& p = scopes_[op.c - 1];
        if (p.state != 1 || p.thread != th)
          fail("scope " + std::to_string(op.a) + " has parent " + std::to_string(op.c - 1) +
               ", which is not open on this thread");
        if (kind == ScopeKind::connection) fail("connection scope " + std::to_string(op.a) + " has a parent");
        if (kind == ScopeKind::request && p.kind != ScopeKind::connection)
          fail("request scope " + std::to_string(op.a) + " inside a " + std::string(scope_kind_name(p.kind)) + " scope");
        ++p.open_children;
        sc.request = kind == ScopeKind::request ? op.a + 1 : p.request;
      } else {
        if (kind == ScopeKind::child) fail("child scope " + std::to_string(op.a) + " has no parent");
        sc.request = kind == ScopeKind::request ? op.a + 1 : kNoScope;
      }
      sc.state = 1;
      obs.on_open(th, op, sc);
      return true;
    }
    case OpKind::close: {
      zero(true, true, false, true, true);
      if (op.a >= scopes_.size()) fail("close of scope " + std::to_string(op.a) + ", out of range");
      ScopeState& sc = scopes_[op.a];
      if (sc.state != 1) fail("close of scope " + std::to_string(op.a) + ", which is not open");
      if (sc.thread != th)
        fail("close of scope " + std::to_string(op.a) + " of thread " + std::to_string(sc.thread) + " on thread " +
             std::to_string(th));
      if (pending_release_ != kNoScope && pending_release_ != op.a + 1)
        fail("close of scope " + std::to_string(op.a) + " after releases of scope " + std::to_string(pending_release_ - 1));
      if (sc.open_children) fail("close of scope " + std::to_string(op.a) + " while a child scope is open");
      if (sc.live_blocks)
        fail("close of scope " + std::to_string(op.a) + " with " + std::to_string(sc.live_blocks) +
             " live blocks not released");
      pending_release_ = kNoScope;
      sc.state = 2;
      if (sc.parent != kNoScope) --scopes_[sc.parent - 1].open_children;
      obs.on_close(th, op, sc);
      return true;
    }
    case OpKind::signal: {
      zero(true, true, false, true, true);
      if (op.a >= edge_state_.size()) fail("edge " + std::to_string(op.a) + " out of range");
      if (edge_state_[op.a] & 1) fail("edge " + std::to_string(op.a) + " signalled twice");
      edge_state_[op.a] |= 1;
      edge_from_[op.a] = th;
      edge_seq_[op.a] = ++signals_[th];
      obs.on_other(th, op);
      return true;
    }
    case OpKind::wait: {
      zero(true, true, false, true, true);
      if (op.a >= edge_state_.size()) fail("edge " + std::to_string(op.a) + " out of range");
      if (edge_state_[op.a] & 2) fail("edge " + std::to_string(op.a) + " waited twice");
      if (!(edge_state_[op.a] & 1)) return false;
      edge_state_[op.a] |= 2;
      std::size_t T = t_.threads.size();
      auto& r = received_[th * T + edge_from_[op.a]];
      if (edge_seq_[op.a] > r) r = edge_seq_[op.a];
      obs.on_other(th, op);
      return true;
    }
    case OpKind::think:
      zero(true, true, true, false, true);
      if (op.b > kMaxThinkNs) fail("think time of " + std::to_string(op.b) + " ns, above the limit of 1 s");
      obs.on_other(th, op);
      return true;
  }
  fail("unknown op kind " + std::to_string(static_cast<unsigned>(op.kind)));
}

template <class Observer>
void Walker::run(Observer& obs) {
  const std::size_t T = t_.threads.size();
  slots_.assign(t_.slot_count, {});
  scopes_.assign(t_.scope_count, {});
  edge_state_.assign(t_.edge_count, 0);
  edge_from_.assign(t_.edge_count, 0);
  edge_seq_.assign(t_.edge_count, 0);
  signals_.assign(T, 0);
  received_.assign(T * T, 0);
  std::vector<std::uint64_t> pos(T, 0);
  std::size_t running = 0;
  for (const auto& s : t_.threads) running += !s.empty();
  while (running > 0) {
    bool progress = false;
    for (std::uint32_t th = 0; th < T; ++th) {
      const auto& stream = t_.threads[th];
      if (pos[th] >= stream.size()) continue;
      cur_thread_ = th;
      cur_index_ = pos[th];
      // Releases and the close after them run as one step, so that no other
      // thread's op lands between them.
      bool stepped = false;
      do {
        if (!step(th, stream[pos[th]], obs)) break;
        stepped = true;
        ++tick_;
        ++pos[th];
        cur_index_ = pos[th];
      } while (pending_release_ != kNoScope && pos[th] < stream.size());
      if (stepped) {
        progress = true;
        if (pos[th] == stream.size()) {
          --running;
          if (pending_release_ != kNoScope) fail("releases of scope " + std::to_string(pending_release_ - 1) + " end the thread without its close");
        }
      }
    }
    if (!progress) {
      for (std::uint32_t th = 0; th < T; ++th) {
        if (pos[th] < t_.threads[th].size()) {
          cur_thread_ = th;
          cur_index_ = pos[th];
          fail("deadlock: wait on edge " + std::to_string(t_.threads[th][pos[th]].a) +
               ", which no thread can signal any more");
        }
      }
    }
  }
  // Whole-trace rules, reported at the end of the last thread.
  cur_thread_ = T ? static_cast<std::uint32_t>(T - 1) : 0;
  cur_index_ = T ? t_.threads.back().size() : 0;
  for (std::uint32_t e = 0; e < edge_state_.size(); ++e)
    if (edge_state_[e] != 3) fail("edge " + std::to_string(e) + (edge_state_[e] ? " never waited" : " never signalled"));
  for (std::uint32_t s = 0; s < scopes_.size(); ++s) {
    if (scopes_[s].state == 0) fail("scope " + std::to_string(s) + " never opened");
    if (scopes_[s].state == 1) fail("scope " + std::to_string(s) + " never closed");
  }
}

}  // namespace alloclab::trace
