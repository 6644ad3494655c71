// What every model does the same way: checking the parameters that split
// connections over threads, and writing the trace's metadata.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "workloads/models/model.hpp"

namespace alloclab::trace {

// Each event loop needs at least one connection.
inline void require_connection_per_thread(const ModelParams& p) {
  if (p.connections < p.threads)
    throw std::invalid_argument("--connections (" + std::to_string(p.connections) + ") must be at least --threads (" +
                                std::to_string(p.threads) + ")");
}

// The metadata JSON, one line: the model, its arguments, and the named
// figures it used (so a trace file says how it was made).
inline std::string model_metadata(std::string_view model, const ModelParams& p, nlohmann::json parameters) {
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
