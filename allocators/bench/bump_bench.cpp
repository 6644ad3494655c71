// bump: allocation inside a request scope against
// std::pmr::monotonic_buffer_resource and glibc malloc/free, on one
// pre-generated size sequence per benchmark. Per request: open a scope, make
// the allocations, close it (glibc: free every block at the end). per_op is
// the time per allocation, the scope's open and close included.
//
// Target: bump <= 1.0x monotonic_buffer_resource. The monotonic resource gets
// an 8 KiB initial buffer, the same as bump's first chunk, and release() at
// the end of each request (which rewinds to that buffer).
//
//   ./bump_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdlib>
#include <memory_resource>
#include <vector>

#include "allocators/bench/sequence.hpp"
#include "allocators/strategies/bump.hpp"

namespace alloclab::bench {
namespace {

struct Requests {
  std::size_t per_request;
  std::vector<std::uint32_t> size;  // requests back to back
};

// 32 allocations of 16-512 B (about 4.6 KB): fits a first chunk as a typical
// request does (nginx: 1-2 KB of a 4 KiB pool). 64 requests per iteration.
const Requests& small_requests() {
  static const Requests r{32, log_uniform_sizes(32 * 64, 16, 512, 7)};
  return r;
}
// 256 allocations (about 37 KB): outgrows the first chunk several times.
const Requests& large_requests() {
  static const Requests r{256, log_uniform_sizes(256 * 8, 16, 512, 8)};
  return r;
}

void Bump(benchmark::State& state, const Requests& r) {
  BumpBackend bump;
  const std::size_t n = r.size.size();
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; i += r.per_request) {
      auto scope = bump.open_scope(ScopeKind::request, nullptr);
      for (std::size_t j = i; j < i + r.per_request; ++j) touch(bump.allocate(scope, r.size[j], 8));
      bump.close_scope(scope);
    }
    benchmark::ClobberMemory();
  }
  report_per_op(state, n);
}

void PmrMonotonic(benchmark::State& state, const Requests& r) {
  alignas(std::max_align_t) static std::byte initial[8192];
  std::pmr::monotonic_buffer_resource mono(initial, sizeof initial);
  const std::size_t n = r.size.size();
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; i += r.per_request) {
      for (std::size_t j = i; j < i + r.per_request; ++j) touch(mono.allocate(r.size[j], 8));
      mono.release();
    }
    benchmark::ClobberMemory();
  }
  report_per_op(state, n);
}

void GlibcMalloc(benchmark::State& state, const Requests& r) {
  const std::size_t n = r.size.size();
  std::vector<void*> held(r.per_request);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; i += r.per_request) {
      for (std::size_t j = 0; j < r.per_request; ++j) {
        held[j] = std::malloc(r.size[i + j]);
        touch(held[j]);
      }
      for (void* p : held) std::free(p);
    }
    benchmark::ClobberMemory();
  }
  report_per_op(state, n);
}

void SmallRequests_Bump(benchmark::State& s) { Bump(s, small_requests()); }
void SmallRequests_PmrMonotonic(benchmark::State& s) { PmrMonotonic(s, small_requests()); }
void SmallRequests_GlibcMalloc(benchmark::State& s) { GlibcMalloc(s, small_requests()); }
void LargeRequests_Bump(benchmark::State& s) { Bump(s, large_requests()); }
void LargeRequests_PmrMonotonic(benchmark::State& s) { PmrMonotonic(s, large_requests()); }
void LargeRequests_GlibcMalloc(benchmark::State& s) { GlibcMalloc(s, large_requests()); }

BENCHMARK(SmallRequests_Bump);
BENCHMARK(SmallRequests_PmrMonotonic);
BENCHMARK(SmallRequests_GlibcMalloc);
BENCHMARK(LargeRequests_Bump);
BENCHMARK(LargeRequests_PmrMonotonic);
BENCHMARK(LargeRequests_GlibcMalloc);

}  // namespace
}  // namespace alloclab::bench

BENCHMARK_MAIN();
