// What the orchestrator and alloclab-worker agree on: the worker's exit
// statuses. The worker prints one JSON document on stdout; on any status
// but kOk, stderr's last line says why.
#pragma once

namespace alloclab::worker_exit {

inline constexpr int kOk = 0;
// The command line or the spec was malformed.
inline constexpr int kBadInput = 2;
// The allocator answering malloc is not the one asked for; nothing measured.
inline constexpr int kRefused = 4;
// The backend misbehaved during the run (lost bytes, misaligned block).
inline constexpr int kBackendFailed = 5;

}  // namespace alloclab::worker_exit
