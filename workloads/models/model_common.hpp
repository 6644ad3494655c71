// What every model does the same way: checking the parameters that split
// connections over threads, running its connections, and writing the
// trace's metadata.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "workloads/models/event_loop.hpp"
#include "workloads/models/model.hpp"

namespace alloclab::trace {

// Each event loop needs at least one connection.
inline void require_connection_per_thread(const ModelParams& p) {
  if (p.connections < p.threads)
    throw std::invalid_argument("--connections (" + std::to_string(p.connections) + ") must be at least --threads (" +
                                std::to_string(p.threads) + ")");
}

// The run of a model whose connections are spread over --threads event
// loops: Conn(b, sh, loop, requests) makes one; load() as run_event_loops'.
template <class Conn, class Shared, class Load>
void serve(TraceBuilder& b, Rng& rng, const ModelParams& p, Shared& sh, Load&& load) {
  require_connection_per_thread(p);
  LoopShape s{p.threads, p.connections, p.requests};
  run_event_loops<Conn>(
      b, rng, s, [&](std::uint32_t th, std::uint32_t n) { return Conn(b, sh, th, n); }, load, [](std::uint32_t) {});
}

template <class Conn, class Shared>
void serve(TraceBuilder& b, Rng& rng, const ModelParams& p, Shared& sh) {
  serve<Conn>(b, rng, p, sh, [] { return 1.0; });
}

// The metadata JSON, one line: the model, its arguments, and the named
// figures it used (so a trace file says how it was made), those of the
// event loops and keep-alive that every model shares among them.
inline std::string model_metadata(std::string_view model, const ModelParams& p, nlohmann::json parameters) {
  parameters["requests_per_connection_mean"] = kRequestsPerConnection;
  parameters["keepalive_requests"] = nginx::kKeepaliveRequests;
  nlohmann::json j;
  j["model"] = model;
  j["seed"] = p.seed;
  j["requests"] = p.requests;
  j["connections"] = p.connections;
  j["threads"] = p.threads;
  j["parameters"] = std::move(parameters);
  return j.dump();
}

}  // namespace alloclab::trace
