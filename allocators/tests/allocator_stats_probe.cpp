// Prints read_allocator_counters() of its own process, so that a test can run
// it with each general allocator preloaded (a process has exactly one).
//
//   allocator_stats_probe        lines "LABEL FAMILY HEAP ALLOCATED NRAW" for
//                                LABEL before, live (64 MiB in 4096 touched
//                                16 KiB blocks held) and freed
//   allocator_stats_probe cost N "cost FAMILY MEDIAN_NS MIN_NS": N timed calls
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "allocators/general/allocator_stats.hpp"

namespace {

constexpr std::size_t kBlock = 16 * 1024;
constexpr std::size_t kBlocks = 4096;  // 64 MiB

void print(const char* label) {
  alloclab::AllocatorCounters c = alloclab::read_allocator_counters();
  std::printf("%s %s %llu %llu %zu\n", label, c.family.c_str(), static_cast<unsigned long long>(c.heap_bytes),
              static_cast<unsigned long long>(c.allocated_bytes), c.raw.size());
}

int movement() {
  std::vector<void*> blocks;
  blocks.reserve(kBlocks);
  print("before");
  for (std::size_t i = 0; i < kBlocks; ++i) {
    void* p = std::malloc(kBlock);
    if (p == nullptr) return 1;
    // Touched, so that no allocator can hold the block without memory.
    std::memset(p, 0x5a, kBlock);
    blocks.push_back(p);
  }
  print("live");
  for (void* p : blocks) std::free(p);
  print("freed");
  return 0;
}

int cost(int n) {
  alloclab::read_allocator_counters();  // resolves the library's entry points
  std::vector<long long> ns;
  ns.reserve(n);
  std::string family;
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    alloclab::AllocatorCounters c = alloclab::read_allocator_counters();
    auto t1 = std::chrono::steady_clock::now();
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    if (i == 0) family = c.family;
  }
  std::sort(ns.begin(), ns.end());
  std::printf("cost %s %lld %lld\n", family.c_str(), ns[ns.size() / 2], ns.front());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "cost") return cost(std::max(1, std::atoi(argv[2])));
  if (argc == 1) return movement();
  std::fprintf(stderr, "usage: allocator_stats_probe [cost N]\n");
  return 2;
}
