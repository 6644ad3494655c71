// pool: allocate+free pairs against boost::pool, std::pmr's
// unsynchronized_pool_resource and glibc malloc/free, on one pre-generated
// sequence per benchmark.
//
// Targets: pool <= 1.0x boost::pool and <= 0.5x unsynchronized_pool_resource.
// boost::pool serves one size, so for a mix of sizes it gets one pool per
// PoolBackend class, chosen by the same class lookup: both then do the same
// job (a class lookup and a free-list pop or push).
//
//   ./pool_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <boost/pool/pool.hpp>

#include <array>
#include <cstdlib>
#include <memory_resource>
#include <optional>

#include "allocators/bench/sequence.hpp"
#include "allocators/strategies/pool.hpp"

namespace alloclab::bench {
namespace {

// 16-512 B, 1024 blocks live, 4096 pairs per iteration.
const Churn& mixed() {
  static const Churn c = make_churn(1024, 4096, 16, 512);
  return c;
}
// One object size: the case boost::pool is built for.
const Churn& fixed64() {
  static const Churn c = make_churn(1024, 4096, 64, 64);
  return c;
}

void Pool(benchmark::State& state, const Churn& c) {
  PoolBackend pool;
  run_churn(
      state, c, [&](std::size_t n) { return pool.allocate(n, 8); },
      [&](void* p, std::size_t n) { pool.deallocate(p, n, 8); });
}

void BoostPool(benchmark::State& state, const Churn& c) {
  std::array<std::optional<boost::pool<>>, PoolBackend::kClasses> pools;
  for (std::size_t i = 0; i < PoolBackend::kClasses; ++i) pools[i].emplace(PoolBackend::kClassSizes[i]);
  run_churn(
      state, c, [&](std::size_t n) { return (*pools[PoolBackend::class_index(n)]).malloc(); },
      [&](void* p, std::size_t n) { (*pools[PoolBackend::class_index(n)]).free(p); });
}

// One object type: the size is a compile-time constant for every contender,
// as sizeof(T) is for a typed pool.
constexpr std::size_t kObject = 64;

void Fixed64_Pool(benchmark::State& state) {
  PoolBackend pool;
  run_churn(
      state, fixed64(), [&](std::size_t) { return pool.allocate(kObject, 8); },
      [&](void* p, std::size_t) { pool.deallocate(p, kObject, 8); });
}

void Fixed64_BoostPool(benchmark::State& state) {
  boost::pool<> pool(kObject);
  run_churn(
      state, fixed64(), [&](std::size_t) { return pool.malloc(); }, [&](void* p, std::size_t) { pool.free(p); });
}

void Fixed64_PmrUnsynchronizedPool(benchmark::State& state) {
  std::pmr::unsynchronized_pool_resource r;
  run_churn(
      state, fixed64(), [&](std::size_t) { return r.allocate(kObject, 8); },
      [&](void* p, std::size_t) { r.deallocate(p, kObject, 8); });
}

void Fixed64_GlibcMalloc(benchmark::State& state) {
  run_churn(
      state, fixed64(), [](std::size_t) { return std::malloc(kObject); },
      [](void* p, std::size_t) { std::free(p); });
}

void PmrUnsynchronizedPool(benchmark::State& state, const Churn& c) {
  std::pmr::unsynchronized_pool_resource r;
  run_churn(
      state, c, [&](std::size_t n) { return r.allocate(n, 8); },
      [&](void* p, std::size_t n) { r.deallocate(p, n, 8); });
}

void GlibcMalloc(benchmark::State& state, const Churn& c) {
  run_churn(
      state, c, [](std::size_t n) { return std::malloc(n); }, [](void* p, std::size_t) { std::free(p); });
}

void Mixed_Pool(benchmark::State& s) { Pool(s, mixed()); }
void Mixed_BoostPool(benchmark::State& s) { BoostPool(s, mixed()); }
void Mixed_PmrUnsynchronizedPool(benchmark::State& s) { PmrUnsynchronizedPool(s, mixed()); }
void Mixed_GlibcMalloc(benchmark::State& s) { GlibcMalloc(s, mixed()); }

BENCHMARK(Mixed_Pool);
BENCHMARK(Mixed_BoostPool);
BENCHMARK(Mixed_PmrUnsynchronizedPool);
BENCHMARK(Mixed_GlibcMalloc);
BENCHMARK(Fixed64_Pool);
BENCHMARK(Fixed64_BoostPool);
BENCHMARK(Fixed64_PmrUnsynchronizedPool);
BENCHMARK(Fixed64_GlibcMalloc);

}  // namespace
}  // namespace alloclab::bench

BENCHMARK_MAIN();
