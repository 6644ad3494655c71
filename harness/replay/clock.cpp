#include "harness/replay/clock.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

namespace alloclab::replay {

ClockCalibration calibrate() {
  ClockCalibration c;
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  std::uint64_t k0 = ticks();
  while (clock::now() - t0 < std::chrono::milliseconds(50)) {
  }
  auto t1 = clock::now();
  std::uint64_t k1 = ticks();
  c.ns_per_tick = std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(k1 - k0);

  constexpr int kPairs = 20000;
  std::vector<std::uint64_t> d(kPairs);
  std::uint64_t smallest = UINT64_MAX;
  for (int i = 0; i < kPairs; ++i) {
    std::uint64_t a = ticks();
    std::uint64_t b = ticks();
    d[i] = b - a;
    if (b > a) smallest = std::min(smallest, b - a);
  }
  std::nth_element(d.begin(), d.begin() + kPairs / 2, d.end());
  c.overhead_ticks = static_cast<double>(d[kPairs / 2]);
  c.overhead_ns = c.overhead_ticks * c.ns_per_tick;
  c.resolution_ns = smallest == UINT64_MAX ? 0 : static_cast<double>(smallest) * c.ns_per_tick;
  c.samples = kPairs;
  return c;
}

}  // namespace alloclab::replay
