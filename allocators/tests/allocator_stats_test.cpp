// read_allocator_counters: in this process (glibc, the test's own malloc),
// then through allocator_stats_probe run with each general allocator
// preloaded, checking that every family's counters follow 64 MiB held live.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "allocators/general/allocator_stats.hpp"
#include "allocators/general/library.hpp"

#if defined(ALLOCLAB_SANITIZED) || defined(__SANITIZE_ADDRESS__)
#define ALLOCLAB_STATS_SANITIZED 1
#endif

namespace alloclab {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

#ifdef ALLOCLAB_STATS_SANITIZED

TEST(AllocatorStats, SanitizerMallocIsUnknown) {
  // The sanitizer's malloc is not glibc's, so glibc's mallinfo2 (defined in
  // another object) must not be read as if it described this heap.
  AllocatorCounters c = read_allocator_counters();
  EXPECT_EQ(c.family, "unknown");
  EXPECT_EQ(c.heap_bytes, 0u);
  EXPECT_EQ(c.allocated_bytes, 0u);
  EXPECT_TRUE(c.raw.empty());
}

#else

// Keeps the compiler from eliding a malloc/free pair.
void* opaque(void* p) {
  asm volatile("" : "+r"(p)::"memory");
  return p;
}

std::uint64_t raw_value(const AllocatorCounters& c, const std::string& name) {
  for (const auto& [n, v] : c.raw) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no raw counter " << name;
  return 0;
}

TEST(AllocatorStats, GlibcInProcess) {
  AllocatorCounters before = read_allocator_counters();
  ASSERT_EQ(before.family, "glibc");
  ASSERT_EQ(before.raw.size(), 10u);
  // The headline figures are the documented sums of mallinfo2 fields.
  EXPECT_EQ(before.heap_bytes, raw_value(before, "arena") + raw_value(before, "hblkhd"));
  EXPECT_EQ(before.allocated_bytes, raw_value(before, "uordblks") + raw_value(before, "hblkhd"));

  // 4 KiB blocks are under the mmap threshold and above the tcache's largest
  // size, so they come from the arena and go straight back to it.
  constexpr std::size_t kBlock = 4096, kBlocks = 1000;
  std::vector<void*> blocks;
  blocks.reserve(kBlocks);
  AllocatorCounters empty = read_allocator_counters();
  for (std::size_t i = 0; i < kBlocks; ++i) blocks.push_back(opaque(std::malloc(kBlock)));
  AllocatorCounters live = read_allocator_counters();
  for (void* p : blocks) std::free(p);
  AllocatorCounters freed = read_allocator_counters();

  const std::uint64_t n = kBlock * kBlocks;
  EXPECT_GE(live.allocated_bytes, empty.allocated_bytes + n);
  EXPECT_GE(live.heap_bytes, empty.heap_bytes + n);
  EXPECT_LE(freed.allocated_bytes + n, live.allocated_bytes);
  EXPECT_LE(freed.heap_bytes, live.heap_bytes);
}

TEST(AllocatorStats, ThreadsReadConcurrently) {
  // The first call resolves the library once; callers on several threads at
  // once must all see the same family and a plausible heap.
  std::array<AllocatorCounters, 4> seen;
  std::vector<std::thread> threads;
  for (auto& s : seen) threads.emplace_back([&s] { s = read_allocator_counters(); });
  for (auto& t : threads) t.join();
  for (const auto& s : seen) {
    EXPECT_EQ(s.family, "glibc");
    EXPECT_GT(s.heap_bytes, 0u);
  }
}

#endif

// One line of the probe's output.
struct ProbeLine {
  std::string family;
  std::uint64_t heap = 0, allocated = 0, nraw = 0;
};

// Runs the probe with `preload` in LD_PRELOAD (none when empty) and returns
// its lines by label.
std::map<std::string, ProbeLine> run_probe(const std::string& preload, std::string* output) {
  std::string cmd = preload.empty() ? "" : "LD_PRELOAD='" + preload + "' ";
  cmd += std::string("'") + ALLOCLAB_STATS_PROBE + "' 2>&1";
  std::map<std::string, ProbeLine> lines;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return lines;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), f) != nullptr) {
    *output += buf;
    std::istringstream in(buf);
    std::string label;
    ProbeLine l;
    if (in >> label >> l.family >> l.heap >> l.allocated >> l.nraw) lines[label] = l;
  }
  int status = ::pclose(f);
  if (status != 0) *output += "exit status " + std::to_string(status);
  return lines;
}

class AllocatorStatsProbe : public ::testing::TestWithParam<Library> {};

TEST_P(AllocatorStatsProbe, CountersFollowLiveMemory) {
#ifdef ALLOCLAB_STATS_SANITIZED
  GTEST_SKIP() << "sanitizer build: the sanitizer must come first in LD_PRELOAD and owns malloc";
#endif
  const Library lib = GetParam();
  const std::string preload(library_preload_path(lib));
  if (!preload.empty() && !std::filesystem::exists(preload)) GTEST_SKIP() << preload << " is not installed";

  std::string output;
  auto lines = run_probe(preload, &output);
  ASSERT_EQ(lines.size(), 3u) << output;
  const ProbeLine &before = lines["before"], &live = lines["live"], &freed = lines["freed"];
  const std::string family(library_name(lib));
  for (const ProbeLine* l : {&before, &live, &freed}) {
    EXPECT_EQ(l->family, family) << output;
    EXPECT_GT(l->nraw, 0u) << output;
    EXPECT_GT(l->heap, 0u) << output;
  }

  constexpr std::uint64_t kLive = 64 * kMiB;
  EXPECT_GE(live.heap, before.heap + kLive) << output;
  if (lib == Library::mimalloc) {
    // mimalloc's release build keeps no count of allocated bytes.
    EXPECT_EQ(live.allocated, 0u) << output;
    return;
  }
  EXPECT_GE(live.allocated, before.allocated + kLive) << output;
  // Per-thread caches may keep a few freed blocks counted as allocated
  // (jemalloc's tcache holds up to a few dozen 16 KiB blocks); 60 of the
  // 64 MiB must come back.
  EXPECT_LE(freed.allocated + 60 * kMiB, live.allocated) << output;
}

INSTANTIATE_TEST_SUITE_P(Libraries, AllocatorStatsProbe, ::testing::ValuesIn(kLibraries),
                         [](const auto& info) { return std::string(library_name(info.param)); });

}  // namespace
}  // namespace alloclab
