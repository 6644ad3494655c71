#include "harness/replay/age.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "workloads/rng.hpp"

namespace alloclab::replay {

namespace {

constexpr double kMinSize = 16, kMaxSize = 32768;
// The mean of a log-uniform draw on [kMinSize, kMaxSize].
const double kMeanSize = (kMaxSize - kMinSize) / std::log(kMaxSize / kMinSize);

void write_pages(void* p, std::size_t n) {
  auto* c = static_cast<char*>(p);
  std::memset(c, 0xA5, n < 64 ? n : 64);
  for (std::size_t off = 4096 - reinterpret_cast<std::uintptr_t>(p) % 4096; off < n; off += 4096) c[off] = char(0xA5);
}

}  // namespace

AgedHeap::AgedHeap(std::uint64_t bytes, std::uint64_t seed) {
  if (bytes == 0) return;
  auto t0 = std::chrono::steady_clock::now();
  trace::Rng rng(seed ^ 0x3c6ef372fe94f82bULL);
  const std::size_t slots = static_cast<std::size_t>(std::max(1.0, static_cast<double>(bytes) / kMeanSize));
  std::vector<void*> table(slots, nullptr);
  std::vector<std::uint32_t> sizes(slots, 0);
  std::uint64_t live = 0;
  const double span = std::log(kMaxSize / kMinSize);
  while (result_.allocated_bytes < 4 * bytes) {
    std::size_t i = static_cast<std::size_t>(rng.between(0, slots - 1));
    if (table[i]) std::free(table[i]), live -= sizes[i], table[i] = nullptr;
    auto n = static_cast<std::uint32_t>(kMinSize * std::exp(rng.uniform() * span));
    void* p = std::malloc(n);
    if (!p) break;  // the memory limit: age as far as it allows
    write_pages(p, n);
    table[i] = p, sizes[i] = n, live += n;
    ++result_.allocations;
    result_.allocated_bytes += n;
  }
  result_.bytes = live;
  for (std::size_t i = 0; i < slots; ++i) {
    if (!table[i]) continue;
    if (rng.between(0, 15) == 0) {
      retained_.push_back(table[i]);
      result_.retained_bytes += sizes[i];
    } else {
      std::free(table[i]);
    }
  }
  result_.retained_blocks = retained_.size();
  result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

AgedHeap::~AgedHeap() {
  for (void* p : retained_) std::free(p);
}

}  // namespace alloclab::replay
