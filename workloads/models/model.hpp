// The workload models: each turns a few parameters into a deterministic
// trace (the same parameters give byte-identical files). Every figure a
// model uses is cited in its file to ../shared/http-workload-facts.md or
// marked as chosen.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/trace.hpp"

namespace alloclab::trace {

struct ModelParams {
  std::uint64_t seed = 1;
  std::uint32_t requests = 0;     // 0: the model's default
  std::uint32_t connections = 0;  // concurrent connections over all threads; 0: the model's default
  std::uint32_t threads = 1;
};

struct Model {
  std::string_view name;
  std::string_view description;  // one line
  std::uint32_t default_requests;
  std::uint32_t default_connections;
  std::uint32_t min_threads;
  Trace (*generate)(const ModelParams& p);  // p has defaults filled in
};

const std::vector<Model>& models();
const Model* find_model(std::string_view name);
std::string model_names();  // "a, b, c"

// Fills in defaults, checks the parameters (std::invalid_argument with a
// one-line reason) and generates.
Trace generate(const Model& m, ModelParams p);

}  // namespace alloclab::trace
