// Request scopes inferred for a trace that has none (a captured one), so
// that region backends can replay it.
//
// The heuristic works on each thread's own stream:
//   - an anchor is a block of the anchor size (nginx's request pool: 4096 B
//     aligned 16, `request_pool_size`) allocated and freed on one thread.
//     Without a given size, the anchor is the (size, alignment) whose blocks
//     most often enclose another same-thread block, allocated and freed
//     entirely within their lifetime;
//   - an anchor opens a scope at its allocation and closes it at its free,
//     extended over the frees that follow at once of blocks allocated inside
//     it (ngx_destroy_pool frees the first pool block before the later ones);
//   - a same-thread block allocated and freed inside a scope belongs to the
//     innermost one (the latest opened that encloses it), the anchor to its
//     own; the frees that end a scope (the run of its blocks' frees right
//     before its close) become releases, as a region would free them;
//   - an anchor inside another becomes a child scope, unless it is freed in
//     the other's closing run (a later block of the same pool): then it is
//     a member; other anchors open request scopes (they may overlap: one
//     thread serves many connections);
//   - everything else stays unscoped and is counted by why: allocated with
//     no scope open, outliving the scopes open at its allocation, touched on
//     another thread, or never freed.
// Any scopes the input had are dropped first (their releases become frees).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workloads/trace.hpp"

namespace alloclab::trace {

struct ScopeOptions {
  std::uint32_t anchor_size = 0;   // 0: detect
  std::uint32_t anchor_align = 0;  // with anchor_size: only blocks asking this alignment (0: any)
};

struct AnchorCandidate {
  std::uint32_t size = 0;
  std::uint32_t align = 0;      // 0: default alignment
  std::uint64_t blocks = 0;     // same-thread blocks of this size and alignment
  std::uint64_t enclosing = 0;  // of which enclose another block
};

struct ScopeReport {
  bool found = false;     // an anchor was given or detected
  bool detected = false;  // by detection
  std::uint32_t anchor_size = 0;
  std::uint32_t anchor_align = 0;           // 0: any (given) or default (detected)
  std::vector<AnchorCandidate> candidates;  // detection's best, most enclosing first

  std::uint64_t dropped_scopes = 0;  // scopes the input had
  std::uint64_t request_scopes = 0;
  std::uint64_t child_scopes = 0;
  std::uint64_t allocs = 0;
  std::uint64_t scoped_allocs = 0;   // anchors included
  std::uint64_t releases = 0;        // frees that became part of a close
  std::uint64_t joined_anchors = 0;  // anchor-size blocks freed in an enclosing scope's closing run: members
  // Not assigned, by why:
  std::uint64_t outside = 0;       // no scope open on its thread at its allocation
  std::uint64_t outlives = 0;      // freed after every scope open at its allocation closed
  std::uint64_t cross_thread = 0;  // freed or reallocated on another thread
  std::uint64_t never_freed = 0;

  std::uint64_t unscoped_allocs() const { return outside + outlives + cross_thread + never_freed; }
};

struct ScopedTrace {
  Trace trace;
  ScopeReport report;
};

// Throws OpFault if `in` breaks a rule of trace.hpp (a trace read from a
// file has been checked already).
ScopedTrace infer_scopes(const Trace& in, const ScopeOptions& options = {});

nlohmann::json to_json(const ScopeReport& r);
// What `alloclab trace scopes` prints.
std::string describe(const ScopeReport& r);

}  // namespace alloclab::trace
