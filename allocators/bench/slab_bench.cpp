// slab: allocate+free pairs against glibc malloc/free on one pre-generated
// 16-512 B sequence (target: slab <= glibc), plus the pool strategy on the
// same sequence for comparison.
//
//   ./slab_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "allocators/bench/sequence.hpp"
#include "allocators/strategies/pool.hpp"
#include "allocators/strategies/slab.hpp"

namespace alloclab::bench {
namespace {

// 16-512 B, 1024 blocks live, 4096 pairs per iteration.
const Churn& mixed() {
  static const Churn c = make_churn(1024, 4096, 16, 512);
  return c;
}
// A working set larger than a few slabs per class: frees land in slabs that
// are not active, exercising the partial list.
const Churn& large_working_set() {
  static const Churn c = make_churn(65536, 65536, 16, 512);
  return c;
}

template <class B>
void Strategy(benchmark::State& state, const Churn& c) {
  B b;
  run_churn(
      state, c, [&](std::size_t n) { return b.allocate(n, 8); },
      [&](void* p, std::size_t n) { b.deallocate(p, n, 8); });
}

void GlibcMalloc(benchmark::State& state, const Churn& c) {
  run_churn(
      state, c, [](std::size_t n) { return std::malloc(n); }, [](void* p, std::size_t) { std::free(p); });
}

void Mixed_Slab(benchmark::State& s) { Strategy<SlabBackend>(s, mixed()); }
void Mixed_Pool(benchmark::State& s) { Strategy<PoolBackend>(s, mixed()); }
void Mixed_GlibcMalloc(benchmark::State& s) { GlibcMalloc(s, mixed()); }
void LargeWorkingSet_Slab(benchmark::State& s) { Strategy<SlabBackend>(s, large_working_set()); }
void LargeWorkingSet_GlibcMalloc(benchmark::State& s) { GlibcMalloc(s, large_working_set()); }

BENCHMARK(Mixed_Slab);
BENCHMARK(Mixed_Pool);
BENCHMARK(Mixed_GlibcMalloc);
BENCHMARK(LargeWorkingSet_Slab);
BENCHMARK(LargeWorkingSet_GlibcMalloc);

}  // namespace
}  // namespace alloclab::bench

BENCHMARK_MAIN();
