// Builds a trace that satisfies every rule of trace.hpp by construction, for
// the generators and the capture converter:
//   - slots are recycled per thread (LIFO), so reuse needs no edge;
//   - close() emits a release for each block of the scope still live;
//   - a free, realloc or slot reuse on a thread other than the one that last
//     touched the block gets an edge (signal on that thread now, wait here)
//     unless one already orders it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/trace.hpp"

namespace alloclab::trace {

class TraceBuilder {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  explicit TraceBuilder(std::uint32_t threads)
      : t_(), free_slots_(threads), received_(static_cast<std::size_t>(threads) * threads, 0) {
    t_.threads.resize(threads);
  }

  std::uint32_t threads() const { return static_cast<std::uint32_t>(t_.threads.size()); }
  std::uint64_t ops() const { return ops_; }
  std::uint64_t live_bytes() const { return live_bytes_; }
  std::uint32_t size_of(std::uint32_t slot) const { return slots_[slot].size; }

  // Allocates `size` bytes on `th`, in `scope` (kNone: unscoped, as the
  // process malloc would serve it). Returns the slot.
  std::uint32_t alloc(std::uint32_t th, std::uint32_t size, std::uint32_t scope = kNone, std::size_t align = 0) {
    std::uint32_t slot;
    auto& fl = free_slots_[th];
    if (!fl.empty()) {
      slot = fl.back();
      fl.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.push_back({});
    }
    Slot& s = slots_[slot];
    order(s, th);
    s.size = size;
    s.scope = scope;
    if (scope != kNone) {
      auto& members = scopes_[scope].live;
      s.index = static_cast<std::uint32_t>(members.size());
      members.push_back(slot);
    }
    Op op{OpKind::alloc, align_log2_of(align), 0, slot, size, scope == kNone ? kNoScope : scope + 1};
    push(th, op);
    touch(s, th);
    live_bytes_ += size;
    return slot;
  }

  void free(std::uint32_t th, std::uint32_t slot) { drop(th, slot, OpKind::free); }

  void realloc(std::uint32_t th, std::uint32_t slot, std::uint32_t size) {
    Slot& s = slots_[slot];
    order(s, th);
    live_bytes_ = live_bytes_ - s.size + size;
    s.size = size;
    push(th, Op{OpKind::realloc, 0, 0, slot, size, 0});
    touch(s, th);
  }

  std::uint32_t open(std::uint32_t th, ScopeKind kind, std::uint32_t parent = kNone) {
    auto id = static_cast<std::uint32_t>(scopes_.size());
    scopes_.push_back({});
    push(th, Op{OpKind::open, 0, static_cast<std::uint16_t>(kind), id, 0, parent == kNone ? kNoScope : parent + 1});
    return id;
  }

  // Releases the scope's live blocks (oldest first) and closes it.
  void close(std::uint32_t th, std::uint32_t scope) {
    auto live = std::move(scopes_[scope].live);
    for (std::uint32_t slot : live) {
      slots_[slot].scope = kNone;  // already leaving the scope
      drop(th, slot, OpKind::release);
    }
    scopes_[scope].live.clear();
    scopes_[scope].live.shrink_to_fit();
    push(th, Op{OpKind::close, 0, 0, scope, 0, 0});
  }

  // An explicit edge: everything `from` did so far happens before what `to`
  // does next.
  void handoff(std::uint32_t from, std::uint32_t to) {
    if (from == to) return;
    std::uint32_t e = t_.edge_count++;
    push(from, Op{OpKind::signal, 0, 0, e, 0, 0});
    push(to, Op{OpKind::wait, 0, 0, e, 0, 0});
    received_[static_cast<std::size_t>(to) * threads() + from] = t_.threads[from].size();
  }

  void think(std::uint32_t th, std::uint32_t ns) { push(th, Op{OpKind::think, 0, 0, 0, ns, 0}); }

  Trace finish(std::string metadata) {
    t_.slot_count = static_cast<std::uint32_t>(slots_.size());
    t_.scope_count = static_cast<std::uint32_t>(scopes_.size());
    t_.metadata = std::move(metadata);
    return std::move(t_);
  }

 private:
  struct Slot {
    std::uint32_t size = 0;
    std::uint32_t scope = kNone;
    std::uint32_t index = 0;          // position in its scope's live list
    std::uint32_t thread = 0;         // last toucher
    std::uint64_t at = 0;             // the toucher's stream length after the touch
    bool touched = false;
  };
  struct Scope {
    std::vector<std::uint32_t> live;
  };

  void push(std::uint32_t th, const Op& op) {
    t_.threads[th].push_back(op);
    ++ops_;
  }
  void touch(Slot& s, std::uint32_t th) {
    s.thread = th;
    s.at = t_.threads[th].size();
    s.touched = true;
  }
  // Adds an edge when the last touch of s on another thread is not yet
  // ordered before th's next op.
  void order(const Slot& s, std::uint32_t th) {
    if (!s.touched || s.thread == th) return;
    if (received_[static_cast<std::size_t>(th) * threads() + s.thread] > s.at) return;
    handoff(s.thread, th);
  }
  void drop(std::uint32_t th, std::uint32_t slot, OpKind kind) {
    Slot& s = slots_[slot];
    order(s, th);
    if (s.scope != kNone) {
      auto& members = scopes_[s.scope].live;
      std::uint32_t moved = members.back();
      members[s.index] = moved;
      slots_[moved].index = s.index;
      members.pop_back();
      s.scope = kNone;
    }
    live_bytes_ -= s.size;
    push(th, Op{kind, 0, 0, slot, 0, 0});
    touch(s, th);
    free_slots_[th].push_back(slot);
  }

  Trace t_;
  std::vector<Slot> slots_;
  std::vector<Scope> scopes_;
  std::vector<std::vector<std::uint32_t>> free_slots_;
  std::vector<std::uint64_t> received_;  // [to * T + from]: from's stream length at the last edge to `to`
  std::uint64_t ops_ = 0;
  std::uint64_t live_bytes_ = 0;
};

}  // namespace alloclab::trace
