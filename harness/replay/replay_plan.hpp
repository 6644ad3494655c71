// A trace decoded for replay: one array of steps per thread, each step
// carrying everything the timed loop needs (the scope a free belongs to, the
// request it is charged to, whether it is a timing sample), so the loop
// does no lookups, no hashing and no allocation of its own.
#pragma once

#include <cstdint>
#include <vector>

#include "workloads/trace.hpp"

namespace alloclab::replay {

// What a step's time is charged to.
enum class OpClass : std::uint8_t { alloc, free, realloc, open, close, none };
inline constexpr int kTimedClasses = 5;
const char* class_name(OpClass c);

struct Step {
  trace::OpKind kind{};
  std::uint8_t align_log2 = 0;
  std::uint8_t sampled : 1 = 0;  // timed alone into the latency histogram
  // On the first step of a timed batch: the steps in it (1 to kMaxBatch),
  // which the timed loop runs between two timer reads; 0 elsewhere. Worked
  // out here so the loop spends no time deciding where a batch ends.
  std::uint8_t batch : 7 = 0;
  OpClass cls = OpClass::none;
  // Slots and scopes are the plan's numbers, not the trace's (see Plan).
  std::uint32_t a = 0;           // slot, scope or edge
  std::uint32_t b = 0;           // size or ns
  std::uint32_t scope = 0;       // alloc/free/release/realloc: the block's scope + 1; open: parent + 1
  // The request the step is charged to, as its thread numbers them: index
  // + 1 into Plan::requests[thread]; 0 for none.
  std::uint32_t request = 0;
};

// A batch: consecutive steps of one class charged to one request, none of
// them sampled, at most this many (so the untimed work after it stays close).
inline constexpr std::uint32_t kMaxBatch = 64;

// What the timed loop takes in one go: timed batches back to back, one timer
// read between each two, until an untimed step or kMaxBatch steps (so under
// 2 * kMaxBatch steps); or one untimed step (a wait, a signal, a think) alone.
// Worked out here with what the loop does around the chain, so the loop
// scans no step to find its end, its frees, its allocations or its bytes.
struct Chain {
  std::uint32_t begin = 0;      // its first step
  std::uint32_t end = 0;        // one past its last
  std::int64_t live_delta = 0;  // the trace's live bytes after it minus before
  // Its steps that free a block (free, release), read before the chain: the
  // slots at reads[read_at, read_at + frees) of the thread's Access.
  std::uint32_t read_at = 0, frees = 0;
  // Its steps that allocate one (alloc, realloc), filled after the chain:
  // the slots at fills[fill_at, fill_at + allocs).
  std::uint32_t fill_at = 0, allocs = 0;
};

// A thread's slots to read and to fill, chain by chain, in step order: the
// loop walks these short arrays instead of scanning the chain's steps.
struct Access {
  std::vector<std::uint32_t> reads, fills;
};

struct Plan {
  std::vector<std::vector<Step>> threads;
  std::vector<std::vector<Chain>> chains;  // per thread, covering its steps in order
  std::vector<Access> access;              // per thread
  // Per thread, the requests its steps are charged to (request index + 1,
  // in the order the trace opens them), in the order it first charges
  // them: each thread adds its allocator time into an array of its own,
  // so no two threads write one cache line however their requests
  // interleave.
  std::vector<std::vector<std::uint32_t>> requests;
  // Slots and scopes are numbered thread by thread, in the order each
  // thread first uses them (the trace numbers them in its own order,
  // threads interleaved): the loop's state for one thread's blocks and
  // scopes lies together, and two threads share a cache line of it only
  // where they share a block or a scope.
  std::vector<trace::ScopeKind> scope_kinds;  // per scope
  std::uint32_t slot_count = 0;
  std::uint32_t scope_count = 0;
  std::uint32_t edge_count = 0;
  std::uint32_t request_count = 0;
  std::uint64_t ops = 0;
  // Some unscoped block is freed or reallocated on a thread other than the
  // one that allocated it: a backend that is not thread-safe cannot replay it.
  bool crosses_threads = false;
};

// sample_one_in: 1 in N steps (chosen by a seeded generator, so periodic
// patterns in a trace do not alias) is timed alone; 0 for none.
Plan make_plan(const trace::Trace& t, std::uint32_t sample_one_in, std::uint64_t seed);

}  // namespace alloclab::replay
