// A fixed-rate (open-loop) HTTP/1.1 load generator, for latency that counts
// queueing delay.
//
// A closed-loop generator such as wrk sends a request only when a previous
// one has been answered, so when the server stalls it simply sends less and
// the stall shows in few samples ("coordinated omission"). Here request i is
// due at start + i / rate whatever happened before; it goes out on the first
// idle keep-alive connection and its latency is measured from when it was
// due, so time spent waiting for a connection counts (as wrk2 does; wrk2 is
// not packaged by Debian). One request in flight per connection, no
// pipelining.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace alloclab::serve {

struct OpenLoopOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";
  double rate = 1000;       // requests per second offered
  double seconds = 2;       // how long requests are issued
  int connections = 32;     // keep-alive connections opened up front
  double drain_seconds = 2; // how long answers are awaited after the last is due
};

struct OpenLoopResult {
  std::uint64_t due = 0;        // requests scheduled
  std::uint64_t completed = 0;  // answered with status 200
  std::uint64_t errors = 0;     // other status, broken connection, or unanswered at the end
  double seconds = 0;           // from the first due time to the last answer
  // Latency from due time to the end of the response, microseconds, sorted.
  std::vector<std::uint32_t> latency_us;
  std::string first_error;      // the first error, for the record

  double percentile_us(double q) const;
};

// Runs the schedule. `stop` is polled: when it becomes nonzero the run
// ends early (the caller's signal handler sets it).
OpenLoopResult run_open_loop(const OpenLoopOptions& options, const volatile int* stop);

}  // namespace alloclab::serve
