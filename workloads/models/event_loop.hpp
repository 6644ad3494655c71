// One event loop per thread, as nginx runs one per worker: each loop holds
// its share of the concurrent connections and, turn after turn, runs the
// next step of one of them picked at random (whichever socket epoll reports
// ready). The loops take turns one step each, so the threads' streams grow
// together and edges between them land where they would in time.
//
// Connections arrive with a number of keep-alive requests drawn once
// (geometric, mean 4: "requests per keep-alive connection" row of
// http-workload-facts.md; capped at nginx's keepalive_requests, 1000). A
// loop replaces a connection that closes until every request of the trace
// has been handed out, so exactly `requests` requests are served.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "workloads/models/nginx_front.hpp"
#include "workloads/rng.hpp"

namespace alloclab::trace {

inline constexpr double kRequestsPerConnection = 4;

struct LoopShape {
  std::uint32_t threads = 1;      // event loops
  std::uint32_t connections = 1;  // concurrent, over all loops (at least one per loop)
  std::uint32_t requests = 1;     // in all
};

// Conn is movable and has `bool step(TraceBuilder&, Rng&)`: run the next
// step, false once the connection has closed. open(th, requests) makes a
// connection on loop th that will serve `requests` requests. load() gives
// the share of each loop's connections to keep open now, in (0, 1]; after(th)
// runs after each step of loop th.
template <class Conn, class Open, class Load, class After>
void run_event_loops(TraceBuilder& b, Rng& rng, const LoopShape& s, Open&& open, Load&& load, After&& after) {
  std::vector<std::vector<Conn>> open_conns(s.threads);
  std::uint32_t unassigned = s.requests;
  for (;;) {
    bool any = false;
    for (std::uint32_t th = 0; th < s.threads; ++th) {
      auto& conns = open_conns[th];
      std::uint32_t share = s.connections / s.threads + (th < s.connections % s.threads ? 1 : 0);
      auto want = static_cast<std::uint32_t>(std::ceil(share * load()));
      while (conns.size() < want && unassigned > 0) {
        std::uint32_t n = std::min(rng.geometric(kRequestsPerConnection, nginx::kKeepaliveRequests), unassigned);
        unassigned -= n;
        conns.push_back(open(th, n));
      }
      if (conns.empty()) continue;
      any = true;
      auto i = static_cast<std::size_t>(rng.between(0, conns.size() - 1));
      if (!conns[i].step(b, rng)) {
        if (i + 1 != conns.size()) conns[i] = std::move(conns.back());
        conns.pop_back();
      }
      after(th);
    }
    if (!any) break;
  }
}

template <class Conn, class Open>
void run_event_loops(TraceBuilder& b, Rng& rng, const LoopShape& s, Open&& open) {
  run_event_loops<Conn>(b, rng, s, open, [] { return 1.0; }, [](std::uint32_t) {});
}

}  // namespace alloclab::trace
