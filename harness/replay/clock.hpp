// The replay's timer: the TSC, read with rdtscp (which waits for earlier
// instructions) and converted to nanoseconds by a calibration against
// CLOCK_MONOTONIC. On these VMs a start+stop pair costs ~20-30 ns and the
// counter advances in ~10 ns steps, more than a fast malloc: so means come
// from batches, and single-op samples have the measured overhead
// subtracted. calibrate() measures both and they are reported with every
// result.
#pragma once

#include <x86intrin.h>

#include <cstdint>

namespace alloclab::replay {

inline std::uint64_t ticks() noexcept {
  unsigned aux;
  return __rdtscp(&aux);
}

struct ClockCalibration {
  double ns_per_tick = 0;        // from a 50 ms comparison with CLOCK_MONOTONIC
  double overhead_ns = 0;        // median cost of an empty start+stop pair
  double overhead_ticks = 0;
  double resolution_ns = 0;      // smallest nonzero difference seen between two reads
  std::uint64_t samples = 0;     // pairs measured for the overhead
};

ClockCalibration calibrate();

}  // namespace alloclab::replay
