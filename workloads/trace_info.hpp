// What a trace contains, computed by walking it (trace_check.hpp's
// round-robin interleaving): what `alloclab trace info` prints and what the
// generator tests assert against their documented parameters.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workloads/trace.hpp"

namespace alloclab::trace {

// Exact order statistics of a sample (nearest rank).
struct Summary {
  std::uint64_t count = 0;
  double mean = 0;
  std::uint64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Summary summarize(std::vector<std::uint64_t> sample);

struct TraceInfo {
  std::uint32_t threads = 0;
  std::uint64_t ops = 0;
  std::uint32_t slots = 0, scopes = 0, edges = 0;
  std::array<std::uint64_t, 10> by_kind{};  // indexed by OpKind
  std::uint64_t count(OpKind k) const { return by_kind[static_cast<std::size_t>(k)]; }

  std::uint64_t bytes_allocated = 0;        // alloc sizes plus realloc new sizes
  Summary alloc_size;                       // requested sizes of alloc ops
  // Power-of-two buckets of alloc sizes: bucket k counts sizes in
  // [2^(k-1), 2^k), bucket 0 counts size 0.
  std::vector<std::uint64_t> size_histogram;
  std::uint64_t aligned_allocs = 0;         // alloc ops with an explicit alignment

  std::uint64_t peak_live_bytes = 0;        // the ideal footprint
  std::uint64_t peak_live_blocks = 0;
  std::uint64_t end_live_bytes = 0;         // never freed
  std::uint64_t end_live_blocks = 0;
  Summary lifetime_ops;                     // ops of the walk between alloc and free/release
  std::uint64_t cross_thread_frees = 0;     // freed on a thread other than the allocating one

  std::array<std::uint64_t, 3> scopes_by_kind{};  // connection, request, child
  std::uint32_t max_scope_depth = 0;
  std::uint64_t scoped_allocs = 0;
  std::uint64_t unscoped_allocs = 0;        // served by the base allocator in a strategy
  Summary request_bytes;                    // bytes allocated inside each request scope (children included)
  Summary request_allocs;                   // alloc ops inside each request scope
  std::uint64_t requests_within_8k = 0;     // requests whose bytes fit an 8 KiB arena (seeds/001, Tier 1)
  // Requests whose allocations one 8 KiB bump arena would serve: in its
  // scope, and unscoped ones made while it was its thread's current request
  // and freed before it closed, each rounded up to 16 B (trace_info.cpp).
  std::uint64_t requests_within_8k_arena = 0;
  std::uint64_t peak_open_requests = 0;     // request scopes open at once, at most
  Summary connection_bytes;                 // bytes allocated in each connection scope outside its requests
  Summary request_held_bytes;               // each request's most live bytes at once (held, not allocated)
  Summary idle_connection_bytes;            // a connection's live bytes outside requests while idle between two requests
  std::uint64_t think_ns = 0;

  nlohmann::json metadata;
};

TraceInfo analyze(const Trace& t);
nlohmann::json to_json(const TraceInfo& info);
// The human-readable report of `alloclab trace info`.
std::string to_report(const TraceInfo& info);

}  // namespace alloclab::trace
