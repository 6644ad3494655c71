// An aged heap: a churn of mixed sizes and lifetimes run through the
// process allocator before a cell's measured replay, so the replay meets a
// heap that has served traffic before instead of a fresh one (as
// tcmalloc's empirical driver builds a transient heap before measuring).
//
// The churn keeps about `bytes` live in a table of blocks: each step frees
// the block in a random slot (if any) and allocates a new one there, of a
// size drawn log-uniformly from 16 B to 32 KiB, and writes it as --touch
// pages does (its header and one byte per further page). It runs until
// four times `bytes` have been allocated. Then every block is freed except
// one slot in 16 (a random sixteenth), which stays live until the cell
// ends: long-lived objects scattered through the heap, with the holes
// around them, as a server's connections and caches leave them.
#pragma once

#include <cstdint>
#include <vector>

namespace alloclab::replay {

struct AgeResult {
  std::uint64_t bytes = 0;           // the live bytes the churn kept
  std::uint64_t allocations = 0;     // blocks allocated over the churn
  std::uint64_t allocated_bytes = 0; // bytes allocated over the churn
  std::uint64_t retained_blocks = 0;
  std::uint64_t retained_bytes = 0;  // left live through the measured replay
  double seconds = 0;
};

class AgedHeap {
 public:
  // Runs the churn (nothing when bytes is 0). seed makes it repeatable.
  AgedHeap(std::uint64_t bytes, std::uint64_t seed);
  ~AgedHeap();  // frees the retained blocks
  AgedHeap(const AgedHeap&) = delete;
  AgedHeap& operator=(const AgedHeap&) = delete;

  const AgeResult& result() const noexcept { return result_; }

 private:
  std::vector<void*> retained_;
  AgeResult result_;
};

}  // namespace alloclab::replay
