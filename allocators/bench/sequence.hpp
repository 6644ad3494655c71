// Pre-generated operation sequences shared by the strategy microbenchmarks,
// so every contender in a file replays exactly the same sizes and slots.
//
// Two shapes:
//   - churn: a working set of `live` blocks; each step frees one slot and
//     allocates a new block into it (one allocate+free pair per step), as a
//     server's long-lived objects turn over;
//   - requests: a scope per request that makes `per_request` allocations and
//     drops them all at once.
// Sizes are log-uniform over [lo, hi]: small blocks dominate, as they do in
// HTTP servers (header entries, values, URLs; http-workload-facts.md).
// Every allocated block has one byte written, so a strategy cannot win by
// never touching its memory.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace alloclab::bench {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    std::uint64_t x = state_;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

inline std::vector<std::uint32_t> log_uniform_sizes(std::size_t n, std::uint32_t lo, std::uint32_t hi,
                                                    std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::uint32_t> out(n);
  double a = std::log(static_cast<double>(lo)), b = std::log(static_cast<double>(hi) + 1);
  for (auto& s : out) {
    auto v = static_cast<std::uint32_t>(std::exp(a + (b - a) * rng.unit()));
    s = v < lo ? lo : (v > hi ? hi : v);
  }
  return out;
}

struct Churn {
  std::size_t live;                  // blocks held at once
  std::vector<std::uint32_t> fill;   // initial size of each slot
  std::vector<std::uint32_t> slot;   // step i frees slot[i] ...
  std::vector<std::uint32_t> size;   // ... and allocates size[i] into it
};

inline Churn make_churn(std::size_t live, std::size_t steps, std::uint32_t lo, std::uint32_t hi,
                        std::uint64_t seed = 42) {
  Churn c{live, log_uniform_sizes(live, lo, hi, seed), {}, log_uniform_sizes(steps, lo, hi, seed + 1)};
  Rng rng(seed + 2);
  c.slot.resize(steps);
  for (auto& s : c.slot) s = static_cast<std::uint32_t>(rng.next() % live);
  return c;
}

inline void touch(void* p) {
  *static_cast<volatile char*>(p) = 1;
  benchmark::DoNotOptimize(p);
}

// Reports the time per step (one allocate+free pair, or one allocation) as
// the counter "per_op" (seconds, shown with an SI prefix).
inline void report_per_op(benchmark::State& state, std::size_t ops_per_iteration) {
  state.counters["per_op"] = benchmark::Counter(static_cast<double>(ops_per_iteration),
                                                benchmark::Counter::kIsIterationInvariantRate |
                                                    benchmark::Counter::kInvert);
}

// Replays `c` with alloc(size) -> void* and release(p, size).
template <class Alloc, class Release>
void run_churn(benchmark::State& state, const Churn& c, Alloc&& alloc, Release&& release) {
  std::vector<void*> block(c.live);
  std::vector<std::uint32_t> held(c.fill);
  for (std::size_t k = 0; k < c.live; ++k) {
    block[k] = alloc(held[k]);
    touch(block[k]);
  }
  const std::size_t steps = c.size.size();
  for (auto _ : state) {
    for (std::size_t i = 0; i < steps; ++i) {
      std::uint32_t k = c.slot[i];
      release(block[k], held[k]);
      void* p = alloc(c.size[i]);
      touch(p);
      block[k] = p;
      held[k] = c.size[i];
    }
    benchmark::ClobberMemory();
  }
  for (std::size_t k = 0; k < c.live; ++k) release(block[k], held[k]);
  report_per_op(state, steps);
}

}  // namespace alloclab::bench
