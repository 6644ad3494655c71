#include "workloads/scopes.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include "workloads/trace_builder.hpp"
#include "workloads/trace_check.hpp"

namespace alloclab::trace {

namespace {

constexpr std::uint32_t kNone = UINT32_MAX;
constexpr std::uint64_t kNever = UINT64_MAX;

// One allocation, from its alloc op to its free (or release).
struct Block {
  std::uint32_t thread = 0;
  std::uint64_t alloc_pos = 0;     // in its thread's stream
  std::uint64_t end_pos = kNever;  // its free, when freed on its own thread
  std::uint32_t size = 0;
  std::uint8_t align_log2 = 0;
  bool local = true;  // every op on it ran on its thread
  bool freed = false;
  bool released = false;  // its free becomes part of its scope's close
  std::uint32_t scope = kNone;
  std::uint32_t opens = kNone;  // the scope this anchor opens
  bool usable() const { return local && freed; }
};

struct Scope {
  std::uint32_t anchor = 0;  // block
  std::uint64_t end = 0;     // position after which it closes
  std::uint32_t parent = kNone;
  std::uint32_t out = kNone;  // id in the output
  bool joined = false;        // its anchor joined an enclosing scope instead
};

// Records the canonical walk: which thread stepped, and for each op that
// touches a block, which block.
struct Recorder {
  explicit Recorder(const Trace& t) : pos(t.threads.size(), 0), slot_block(t.slot_count, kNone) {
    block_at.resize(t.threads.size());
    for (std::size_t i = 0; i < t.threads.size(); ++i) block_at[i].assign(t.threads[i].size(), kNone);
  }
  void on_alloc(std::uint32_t th, const Op& op, const SlotState&, std::uint64_t) {
    Block b;
    b.thread = th;
    b.alloc_pos = pos[th];
    b.size = op.b;
    b.align_log2 = op.align_log2;
    slot_block[op.a] = static_cast<std::uint32_t>(blocks.size());
    blocks.push_back(b);
    step(th, slot_block[op.a]);
  }
  void on_free(std::uint32_t th, const Op& op, const SlotState&, std::uint64_t) {
    Block& b = blocks[slot_block[op.a]];
    b.freed = true;
    if (th == b.thread) {
      b.end_pos = pos[th];
    } else {
      b.local = false;
    }
    step(th, slot_block[op.a]);
  }
  void on_realloc(std::uint32_t th, const Op& op, std::uint32_t, const SlotState&) {
    if (th != blocks[slot_block[op.a]].thread) blocks[slot_block[op.a]].local = false;
    step(th, slot_block[op.a]);
  }
  void on_open(std::uint32_t th, const Op&, const ScopeState&) { step(th, kNone); }
  void on_close(std::uint32_t th, const Op&, const ScopeState&) { step(th, kNone); }
  void on_other(std::uint32_t th, const Op&) { step(th, kNone); }

  void step(std::uint32_t th, std::uint32_t block) {
    if (block != kNone) block_at[th][pos[th]] = block;
    ++pos[th];
    order.push_back(th);
  }

  std::vector<std::uint64_t> pos;
  std::vector<std::uint32_t> slot_block;
  std::vector<std::vector<std::uint32_t>> block_at;  // [thread][position]
  std::vector<Block> blocks;
  std::vector<std::uint32_t> order;  // thread of each step of the walk
};

bool is_free(OpKind k) { return k == OpKind::free || k == OpKind::release; }
// Ops a scope's opening or closing run may step over: they touch no block
// (the input's own scopes and edges are dropped anyway).
bool is_marker(OpKind k) {
  return k == OpKind::signal || k == OpKind::wait || k == OpKind::think || k == OpKind::open || k == OpKind::close;
}

std::uint32_t align_bytes(std::uint8_t log2) { return log2 ? 1u << log2 : 0; }

// Minimum over a range of positions, for "does anything allocated inside
// this block's lifetime end before it".
class RangeMin {
 public:
  explicit RangeMin(std::vector<std::uint64_t> values) : n_(values.size()), t_(2 * values.size(), kNever) {
    std::copy(values.begin(), values.end(), t_.begin() + static_cast<std::ptrdiff_t>(n_));
    for (std::size_t i = n_; i-- > 1;) t_[i] = std::min(t_[2 * i], t_[2 * i + 1]);
  }
  std::uint64_t min(std::size_t lo, std::size_t hi) const {  // [lo, hi)
    std::uint64_t m = kNever;
    for (lo += n_, hi += n_; lo < hi; lo /= 2, hi /= 2) {
      if (lo & 1) m = std::min(m, t_[lo++]);
      if (hi & 1) m = std::min(m, t_[--hi]);
    }
    return m;
  }

 private:
  std::size_t n_;
  std::vector<std::uint64_t> t_;
};

std::vector<AnchorCandidate> rank_candidates(const Trace& t, const Recorder& rec) {
  std::vector<std::vector<std::uint32_t>> by_thread(t.threads.size());
  for (std::uint32_t id = 0; id < rec.blocks.size(); ++id)
    if (rec.blocks[id].usable()) by_thread[rec.blocks[id].thread].push_back(id);
  std::map<std::pair<std::uint32_t, std::uint32_t>, AnchorCandidate> counts;
  for (std::size_t th = 0; th < t.threads.size(); ++th) {
    std::vector<std::uint64_t> ends(t.threads[th].size(), kNever);
    for (std::uint32_t id : by_thread[th]) ends[rec.blocks[id].alloc_pos] = rec.blocks[id].end_pos;
    RangeMin rmq(std::move(ends));
    for (std::uint32_t id : by_thread[th]) {
      const Block& b = rec.blocks[id];
      auto& c = counts[{b.size, align_bytes(b.align_log2)}];
      ++c.blocks;
      if (rmq.min(b.alloc_pos + 1, b.end_pos) < b.end_pos) ++c.enclosing;
    }
  }
  std::vector<AnchorCandidate> out;
  for (auto& [key, c] : counts) {
    c.size = key.first;
    c.align = key.second;
    if (c.enclosing) out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.enclosing != b.enclosing) return a.enclosing > b.enclosing;
    if (a.blocks != b.blocks) return a.blocks > b.blocks;
    return a.size > b.size;
  });
  if (out.size() > 5) out.resize(5);
  return out;
}

// The scope closes after its anchor's free and the frees that follow it at
// once of blocks allocated inside it.
std::uint64_t scope_end(const Trace& t, const Recorder& rec, const Block& anchor) {
  const auto& stream = t.threads[anchor.thread];
  std::uint64_t end = anchor.end_pos;
  for (std::uint64_t p = end + 1; p < stream.size(); ++p) {
    if (is_marker(stream[p].kind)) continue;
    if (!is_free(stream[p].kind)) break;
    const Block& b = rec.blocks[rec.block_at[anchor.thread][p]];
    if (!b.local || b.alloc_pos <= anchor.alloc_pos) break;
    end = p;
  }
  return end;
}

// Assigns anchors their parents and blocks their scopes, thread by thread,
// in allocation order; fills the report's counts.
void assign(const Trace& t, Recorder& rec, std::vector<Scope>& scopes, ScopeReport& r) {
  std::vector<std::vector<std::uint32_t>> by_thread(t.threads.size());
  for (std::uint32_t id = 0; id < rec.blocks.size(); ++id) by_thread[rec.blocks[id].thread].push_back(id);
  for (auto& ids : by_thread) {
    std::vector<std::uint32_t> open;  // scopes by opening order; closed ones are skipped, then dropped
    for (std::uint32_t id : ids) {
      Block& b = rec.blocks[id];
      ++r.allocs;
      std::uint64_t pos = b.alloc_pos;
      while (!open.empty() && scopes[open.back()].end < pos) open.pop_back();
      if (open.size() > 64 && open.size() % 64 == 0)
        std::erase_if(open, [&](std::uint32_t s) { return scopes[s].end < pos; });
      // The innermost scope open now that lasts until `until`.
      auto enclosing = [&](std::uint64_t until) {
        for (auto it = open.rbegin(); it != open.rend(); ++it)
          if (scopes[*it].end >= until) return *it;
        return kNone;
      };
      bool any_open = std::any_of(open.begin(), open.end(), [&](std::uint32_t s) { return scopes[s].end >= pos; });
      std::uint32_t outer = b.opens == kNone ? kNone : enclosing(b.end_pos);
      if (outer != kNone && rec.blocks[scopes[outer].anchor].end_pos < b.end_pos) {
        // Freed after the enclosing anchor, in its closing run: a later
        // block of the same pool (ngx_destroy_pool), not a nested one.
        scopes[b.opens].joined = true;
        b.opens = kNone;
        b.scope = outer;
        ++r.joined_anchors;
      } else if (b.opens != kNone) {
        Scope& s = scopes[b.opens];
        s.parent = enclosing(s.end);
        ++(s.parent == kNone ? r.request_scopes : r.child_scopes);
        b.scope = b.opens;
        open.push_back(b.opens);
      } else if (!b.freed) {
        ++r.never_freed;
      } else if (!b.local) {
        ++r.cross_thread;
      } else if (!any_open) {
        ++r.outside;
      } else if ((b.scope = enclosing(b.end_pos)) == kNone) {
        ++r.outlives;
      }
      if (b.scope != kNone) ++r.scoped_allocs;
    }
  }
}

// The run of frees right before a scope's close, of its own blocks, becomes
// the close's releases.
void mark_releases(const Trace& t, Recorder& rec, const std::vector<Scope>& scopes, ScopeReport& r) {
  for (std::uint32_t s = 0; s < scopes.size(); ++s) {
    if (scopes[s].joined) continue;
    std::uint32_t th = rec.blocks[scopes[s].anchor].thread;
    const auto& stream = t.threads[th];
    for (std::uint64_t p = scopes[s].end + 1; p-- > 0;) {
      if (is_marker(stream[p].kind)) continue;
      if (!is_free(stream[p].kind)) break;
      Block& b = rec.blocks[rec.block_at[th][p]];
      if (b.scope != s || b.thread != th) break;
      b.released = true;
      ++r.releases;
    }
  }
}

Trace emit(const Trace& in, const Recorder& rec, std::vector<Scope>& scopes, std::string metadata) {
  const std::size_t T = in.threads.size();
  TraceBuilder out(static_cast<std::uint32_t>(T));
  // Closes per thread, in position order; at one position children first.
  std::vector<std::vector<std::uint32_t>> closes(T);
  for (std::uint32_t s = 0; s < scopes.size(); ++s)
    if (!scopes[s].joined) closes[rec.blocks[scopes[s].anchor].thread].push_back(s);
  for (auto& c : closes) {
    std::sort(c.begin(), c.end(), [&](std::uint32_t a, std::uint32_t b) {
      if (scopes[a].end != scopes[b].end) return scopes[a].end < scopes[b].end;
      return rec.blocks[scopes[a].anchor].alloc_pos > rec.blocks[scopes[b].anchor].alloc_pos;
    });
  }
  std::vector<std::size_t> next_close(T, 0);
  std::vector<std::uint64_t> pos(T, 0);
  std::vector<std::uint32_t> out_slot(in.slot_count, kNone);
  for (std::uint32_t th : rec.order) {
    std::uint64_t p = pos[th]++;
    const Op& op = in.threads[th][p];
    std::uint32_t id = rec.block_at[th][p];
    switch (op.kind) {
      case OpKind::alloc: {
        const Block& b = rec.blocks[id];
        if (b.opens != kNone) {
          Scope& s = scopes[b.opens];
          s.out = out.open(th, s.parent == kNone ? ScopeKind::request : ScopeKind::child,
                           s.parent == kNone ? TraceBuilder::kNone : scopes[s.parent].out);
        }
        std::uint32_t scope = b.scope == kNone ? TraceBuilder::kNone : scopes[b.scope].out;
        out_slot[op.a] = out.alloc(th, op.b, scope, op.alignment());
        break;
      }
      case OpKind::free:
      case OpKind::release:
        if (!rec.blocks[id].released) out.free(th, out_slot[op.a]);
        break;
      case OpKind::realloc:
        out.realloc(th, out_slot[op.a], op.b);
        break;
      case OpKind::think:
        out.think(th, op.b);
        break;
      default:  // the input's scopes and edges: the builder makes its own
        break;
    }
    auto& c = closes[th];
    while (next_close[th] < c.size() && scopes[c[next_close[th]]].end == p)
      out.close(th, scopes[c[next_close[th]++]].out);
  }
  return out.finish(std::move(metadata));
}

}  // namespace

ScopedTrace infer_scopes(const Trace& in, const ScopeOptions& options) {
  ScopedTrace result;
  ScopeReport& r = result.report;
  r.dropped_scopes = in.scope_count;

  Recorder rec(in);
  Walker walker(in);
  walker.run(rec);

  if (options.anchor_size) {
    r.found = true;
    r.anchor_size = options.anchor_size;
    r.anchor_align = options.anchor_align;
  } else {
    r.candidates = rank_candidates(in, rec);
    // One enclosing block is a coincidence; a request pattern repeats.
    if (!r.candidates.empty() && r.candidates[0].enclosing >= 2) {
      r.found = r.detected = true;
      r.anchor_size = r.candidates[0].size;
      r.anchor_align = r.candidates[0].align;
    }
  }

  std::vector<Scope> scopes;
  if (r.found) {
    for (std::uint32_t id = 0; id < rec.blocks.size(); ++id) {
      Block& b = rec.blocks[id];
      bool align_ok = r.detected ? align_bytes(b.align_log2) == r.anchor_align
                                 : r.anchor_align == 0 || align_bytes(b.align_log2) == r.anchor_align;
      if (!b.usable() || b.size != r.anchor_size || !align_ok) continue;
      b.opens = static_cast<std::uint32_t>(scopes.size());
      scopes.push_back({id, scope_end(in, rec, b), kNone, kNone});
    }
  }
  assign(in, rec, scopes, r);
  mark_releases(in, rec, scopes, r);

  auto meta = nlohmann::json::parse(in.metadata, nullptr, false);
  if (!meta.is_object()) meta = nlohmann::json::object();
  meta["scopes"] = to_json(r);
  result.trace = emit(in, rec, scopes, meta.dump());
  return result;
}

nlohmann::json to_json(const ScopeReport& r) {
  nlohmann::json candidates = nlohmann::json::array();
  for (const auto& c : r.candidates)
    candidates.push_back({{"size", c.size}, {"align", c.align}, {"blocks", c.blocks}, {"enclosing", c.enclosing}});
  return {
      {"anchor", r.found ? nlohmann::json{{"size", r.anchor_size}, {"align", r.anchor_align}, {"detected", r.detected}}
                         : nlohmann::json(nullptr)},
      {"candidates", candidates},
      {"dropped_scopes", r.dropped_scopes},
      {"request_scopes", r.request_scopes},
      {"child_scopes", r.child_scopes},
      {"allocs", r.allocs},
      {"scoped_allocs", r.scoped_allocs},
      {"releases", r.releases},
      {"joined_anchors", r.joined_anchors},
      {"unassigned",
       {{"outside", r.outside},
        {"outlives", r.outlives},
        {"cross_thread", r.cross_thread},
        {"never_freed", r.never_freed}}}};
}

std::string describe(const ScopeReport& r) {
  std::ostringstream o;
  auto pct = [&](std::uint64_t n) {
    std::ostringstream p;
    p.precision(1);
    p << std::fixed << (r.allocs ? 100.0 * static_cast<double>(n) / static_cast<double>(r.allocs) : 0.0) << "%";
    return p.str();
  };
  auto align_text = [](std::uint32_t a, bool any) {
    return a ? "aligned " + std::to_string(a) : any ? std::string("any alignment") : std::string("default alignment");
  };
  if (!r.candidates.empty()) {
    o << "anchor candidates (size, alignment: blocks enclosing another / same-thread blocks):\n";
    for (const auto& c : r.candidates)
      o << "  " << c.size << " B, " << align_text(c.align, false) << ": " << c.enclosing << " / " << c.blocks << '\n';
  }
  if (!r.found) {
    o << "no anchor: no block size repeatedly encloses other blocks of its thread; nothing was scoped\n";
  } else {
    o << "anchor: " << r.anchor_size << " B, " << align_text(r.anchor_align, !r.detected)
      << (r.detected ? " (detected)" : " (given)") << '\n';
  }
  if (r.dropped_scopes) o << "dropped the input's " << r.dropped_scopes << " scopes\n";
  o << "scopes: " << r.request_scopes << " request, " << r.child_scopes << " child";
  if (r.joined_anchors)
    o << "; " << r.joined_anchors << " anchor blocks freed in an enclosing scope's closing run joined it";
  o << '\n';
  o << "allocations: " << r.allocs << ", scoped " << r.scoped_allocs << " (" << pct(r.scoped_allocs) << "), "
    << r.releases << " frees became releases\n";
  o << "not assigned: " << r.unscoped_allocs() << " (" << pct(r.unscoped_allocs()) << ")\n"
    << "  no scope open at allocation   " << r.outside << '\n'
    << "  outlives its enclosing scopes " << r.outlives << '\n'
    << "  touched on another thread     " << r.cross_thread << '\n'
    << "  never freed                   " << r.never_freed << '\n';
  return o.str();
}

}  // namespace alloclab::trace
