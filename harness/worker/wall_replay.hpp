// The worker's --count wall: the replay with no timer read inside it
// (harness/replay/replay.hpp, "Untimed"), on any number of threads; a wait
// spins as in the timed replay.
//
// Null and the general allocators only, and in a translation unit of its
// own: GCC's inlining budget is per unit, so a third instantiation of the
// loop beside the timed and counted ones in worker_main.cpp would change
// how the backends' calls are inlined there, and the figures of those
// loops would move with it (by 3-13% in instructions per op for 19
// strategy groups, measured with scripts/gate.sh).
#pragma once

#include <nlohmann/json.hpp>

#include "harness/replay/clock.hpp"
#include "harness/replay/replay_cell.hpp"

namespace alloclab {

// general: the process's malloc (MallocBackend); else the null backend.
nlohmann::json wall_replay(bool general, const replay::Plan& plan, const replay::CellOptions& o,
                           const replay::ClockCalibration& clock);

}  // namespace alloclab
