#include "harness/worker/wall_replay.hpp"

#include "allocators/general/malloc_backend.hpp"
#include "harness/replay/null_backend.hpp"

namespace alloclab {

nlohmann::json wall_replay(bool general, const replay::Plan& plan, const replay::CellOptions& o,
                           const replay::ClockCalibration& clock) {
  if (general)
    return replay::wall_cell<MallocBackend>([] { return std::make_unique<MallocBackend>(); }, plan, o, clock);
  return replay::wall_cell<replay::NullBackend>([] { return std::make_unique<replay::NullBackend>(); }, plan, o,
                                                clock);
}

}  // namespace alloclab
