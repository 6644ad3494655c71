// APR pools, model and real, on a request-shaped cycle: open a request pool
// under a connection, make 64 allocations of 8-512 bytes, destroy the pool.
// The same cycle with malloc/free and with the bump arena is the reference;
// compare the per-cycle times of one run.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>

#include "allocators/strategies/apr.hpp"
#include "allocators/strategies/apr_real.hpp"
#include "allocators/strategies/bump.hpp"

namespace alloclab {
namespace {

constexpr int kAllocs = 64;

std::array<std::size_t, kAllocs> sizes() {
  std::array<std::size_t, kAllocs> s{};
  std::uint64_t r = 42;
  for (auto& x : s) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    x = 8 + (r >> 33) % 505;
  }
  return s;
}

template <class B>
void BM_RequestCycle(benchmark::State& state) {
  B b;
  auto conn = b.open_scope(ScopeKind::connection, typename B::Scope{});
  const auto sz = sizes();
  for (auto _ : state) {
    auto req = b.open_scope(ScopeKind::request, conn);
    for (std::size_t n : sz) benchmark::DoNotOptimize(b.allocate(req, n, 8));
    b.close_scope(req);
  }
  b.close_scope(conn);
  state.SetItemsProcessed(state.iterations() * kAllocs);
}

void BM_RequestCycleMalloc(benchmark::State& state) {
  const auto sz = sizes();
  std::array<void*, kAllocs> p{};
  for (auto _ : state) {
    for (int i = 0; i < kAllocs; ++i) benchmark::DoNotOptimize(p[i] = std::malloc(sz[i]));
    for (void* q : p) std::free(q);
  }
  state.SetItemsProcessed(state.iterations() * kAllocs);
}

BENCHMARK(BM_RequestCycleMalloc);
BENCHMARK_TEMPLATE(BM_RequestCycle, BumpBackend);
BENCHMARK_TEMPLATE(BM_RequestCycle, AprBackend);
BENCHMARK_TEMPLATE(BM_RequestCycle, AprRealBackend);

}  // namespace
}  // namespace alloclab

BENCHMARK_MAIN();
