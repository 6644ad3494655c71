#include "harness/replay/replay_plan.hpp"

#include "workloads/rng.hpp"
#include "workloads/trace_check.hpp"

namespace alloclab::replay {

const char* class_name(OpClass c) {
  switch (c) {
    case OpClass::alloc: return "alloc";
    case OpClass::free: return "free";
    case OpClass::realloc: return "realloc";
    case OpClass::open: return "open";
    case OpClass::close: return "close";
    case OpClass::none: return "none";
  }
  return "none";
}

namespace {

using trace::kNoScope;
using trace::Op;
using trace::OpKind;
using trace::ScopeState;
using trace::SlotState;

// Fills the steps while the checker walks the trace: the walk gives each op
// the state it needs (a block's scope, a scope's request).
struct PlanObserver {
  Plan& plan;
  const trace::Walker& walker;
  std::vector<std::uint64_t> next;      // per thread: index of its next op
  std::vector<std::uint32_t> request_index;  // per scope: request index + 1
  std::vector<std::vector<std::int64_t>> live_delta;  // per thread and step: live bytes after minus before

  Step& step(std::uint32_t th) { return plan.threads[th][next[th]++]; }
  std::uint32_t request_of(std::uint32_t scope_plus1) const {
    if (scope_plus1 == kNoScope) return 0;
    std::uint32_t req = walker.scopes()[scope_plus1 - 1].request;
    return req == kNoScope ? 0 : request_index[req - 1];
  }

  void on_alloc(std::uint32_t th, const Op& op, const SlotState&, std::uint64_t) {
    Step& s = step(th);
    s.cls = OpClass::alloc;
    live_delta[th][next[th] - 1] = static_cast<std::int64_t>(op.b);
    s.scope = op.c;
    s.request = request_of(op.c);
  }
  void on_free(std::uint32_t th, const Op&, const SlotState& slot, std::uint64_t) {
    Step& s = step(th);
    s.cls = OpClass::free;
    live_delta[th][next[th] - 1] = -static_cast<std::int64_t>(slot.size);
    s.scope = slot.scope;
    s.request = request_of(slot.scope);
    if (slot.scope == kNoScope && th != slot.alloc_thread) plan.crosses_threads = true;
  }
  void on_realloc(std::uint32_t th, const Op& op, std::uint32_t old_size, const SlotState& slot) {
    Step& s = step(th);
    s.cls = OpClass::realloc;
    live_delta[th][next[th] - 1] = static_cast<std::int64_t>(op.b) - static_cast<std::int64_t>(old_size);
    s.scope = slot.scope;
    s.request = request_of(slot.scope);
    if (slot.scope == kNoScope && th != slot.alloc_thread) plan.crosses_threads = true;
  }
  void on_open(std::uint32_t th, const Op& op, const ScopeState& sc) {
    if (sc.kind == trace::ScopeKind::request) request_index[op.a] = ++plan.request_count;
    Step& s = step(th);
    s.cls = OpClass::open;
    s.scope = op.c;
    s.request = request_of(op.a + 1);
    plan.scope_kinds[op.a] = sc.kind;
  }
  void on_close(std::uint32_t th, const Op& op, const ScopeState&) {
    Step& s = step(th);
    s.cls = OpClass::close;
    s.request = request_of(op.a + 1);
  }
  void on_other(std::uint32_t th, const Op&) { step(th).cls = OpClass::none; }
};

// Calls on_slot(id) and on_scope(id) with a reference to each slot and
// scope number the step holds (scope numbers 0-based, whether the step keeps
// one as is or plus one), a block's or parent's scope before an opened one.
template <class Slot, class Scope>
void each_id(Step& s, Slot on_slot, Scope on_scope) {
  auto plus_one = [&](std::uint32_t& field) {
    if (!field) return;
    std::uint32_t id = field - 1;
    on_scope(id);
    field = id + 1;
  };
  switch (s.kind) {
    case OpKind::alloc:
    case OpKind::free:
    case OpKind::release:
    case OpKind::realloc:
      on_slot(s.a);
      plus_one(s.scope);
      break;
    case OpKind::open:
      plus_one(s.scope);
      on_scope(s.a);
      break;
    case OpKind::close:
      on_scope(s.a);
      break;
    default:
      break;
  }
}

// Renumbers slots and scopes thread by thread, in the order of first use,
// and each thread's requests in the order it first charges them (Plan).
void number_by_thread(Plan& plan) {
  constexpr std::uint32_t kNone = UINT32_MAX;
  std::vector<std::uint32_t> slot(plan.slot_count, kNone), scope(plan.scope_count, kNone);
  std::uint32_t slots = 0, scopes = 0;
  auto number = [](std::vector<std::uint32_t>& to, std::uint32_t& next) {
    return [&to, &next](std::uint32_t& id) {
      if (id < to.size() && to[id] == kNone) to[id] = next++;
    };
  };
  for (auto& steps : plan.threads)
    for (Step& s : steps) each_id(s, number(slot, slots), number(scope, scopes));
  for (auto& n : slot)  // none unused in a checked trace; kept a permutation
    if (n == kNone) n = slots++;
  for (auto& n : scope)
    if (n == kNone) n = scopes++;
  std::vector<trace::ScopeKind> kinds(plan.scope_kinds.size());
  for (std::size_t i = 0; i < kinds.size(); ++i) kinds[scope[i]] = plan.scope_kinds[i];
  plan.scope_kinds = std::move(kinds);
  std::vector<std::uint32_t> local(plan.request_count + 1, 0);
  plan.requests.assign(plan.threads.size(), {});
  for (std::size_t th = 0; th < plan.threads.size(); ++th) {
    auto& mine = plan.requests[th];
    for (Step& s : plan.threads[th]) {
      each_id(s, [&](std::uint32_t& id) { id = slot[id]; }, [&](std::uint32_t& id) { id = scope[id]; });
      if (s.request) {
        if (local[s.request] == 0) {
          mine.push_back(s.request);
          local[s.request] = static_cast<std::uint32_t>(mine.size());
        }
        s.request = local[s.request];
      }
    }
    for (std::uint32_t q : mine) local[q] = 0;
  }
}

}  // namespace

Plan make_plan(const trace::Trace& t, std::uint32_t sample_one_in, std::uint64_t seed) {
  Plan plan;
  plan.slot_count = t.slot_count;
  plan.scope_count = t.scope_count;
  plan.edge_count = t.edge_count;
  plan.ops = t.op_count();
  plan.scope_kinds.assign(t.scope_count, trace::ScopeKind::connection);
  plan.threads.resize(t.threads.size());
  trace::Rng rng(seed);
  for (std::size_t th = 0; th < t.threads.size(); ++th) {
    auto& steps = plan.threads[th];
    steps.resize(t.threads[th].size());
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const Op& op = t.threads[th][i];
      Step& s = steps[i];
      s.kind = op.kind;
      s.align_log2 = op.align_log2;
      s.a = op.a;
      s.b = op.b;
      s.sampled = sample_one_in != 0 && rng.next() % sample_one_in == 0;
    }
  }
  trace::Walker walker(t);
  PlanObserver obs{plan, walker, std::vector<std::uint64_t>(t.threads.size(), 0),
                   std::vector<std::uint32_t>(t.scope_count, 0), {}};
  for (const auto& steps : plan.threads) obs.live_delta.emplace_back(steps.size(), 0);
  walker.run(obs);
  number_by_thread(plan);
  // Where the timed loop's batches begin and end (replay.hpp): a sampled
  // step alone; otherwise the step and those after it of the same class and
  // request, up to a sampled step, a wait or kMaxBatch.
  for (auto& steps : plan.threads) {
    std::size_t i = 0;
    while (i < steps.size()) {
      const Step& s = steps[i];
      if (s.cls == OpClass::none) {
        ++i;
        continue;
      }
      std::size_t j = i + 1;
      if (!s.sampled)
        while (j < steps.size() && j - i < kMaxBatch && steps[j].cls == s.cls && steps[j].request == s.request &&
               !steps[j].sampled)
          ++j;
      steps[i].batch = static_cast<std::uint8_t>(j - i);
      i = j;
    }
  }
  // The chains (replay_plan.hpp): an untimed step alone; else batches back
  // to back up to an untimed step or kMaxBatch steps.
  plan.chains.resize(plan.threads.size());
  plan.access.resize(plan.threads.size());
  for (std::size_t th = 0; th < plan.threads.size(); ++th) {
    const auto& steps = plan.threads[th];
    const auto& delta = obs.live_delta[th];
    auto& chains = plan.chains[th];
    auto& access = plan.access[th];
    std::size_t i = 0;
    while (i < steps.size()) {
      std::size_t j = i + 1;
      if (steps[i].batch != 0) {
        j = i;
        do j += steps[j].batch;
        while (j < steps.size() && steps[j].batch != 0 && j - i < kMaxBatch);
      }
      Chain c;
      c.begin = static_cast<std::uint32_t>(i);
      c.end = static_cast<std::uint32_t>(j);
      c.read_at = static_cast<std::uint32_t>(access.reads.size());
      c.fill_at = static_cast<std::uint32_t>(access.fills.size());
      for (std::size_t q = i; q < j; ++q) {
        c.live_delta += delta[q];
        if (steps[q].kind == OpKind::free || steps[q].kind == OpKind::release) access.reads.push_back(steps[q].a);
        if (steps[q].kind == OpKind::alloc || steps[q].kind == OpKind::realloc) access.fills.push_back(steps[q].a);
      }
      c.frees = static_cast<std::uint32_t>(access.reads.size()) - c.read_at;
      c.allocs = static_cast<std::uint32_t>(access.fills.size()) - c.fill_at;
      chains.push_back(c);
      i = j;
    }
  }
  return plan;
}

}  // namespace alloclab::replay
