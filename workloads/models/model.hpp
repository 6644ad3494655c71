// The workload models: each turns a few parameters into a deterministic
// trace (the same parameters give byte-identical files). Every figure a
// model uses is cited in its file to ../shared/http-workload-facts.md or
// marked as chosen.
#pragma once

#include <cstdint>
#include <map>
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
  // Model-specific options ("n" -> "64"), from a workload spec's KEY=VALUE
  // list; generate() refuses keys the model does not name.
  std::map<std::string, std::string> options;
  // Copies of the traffic: requests and connections are multiplied by this
  // after defaults, `scale` and `connections=` apply. A weak-scaling sweep
  // sets it to the thread count, so each thread gets the 1-thread trace's
  // work.
  std::uint32_t copies = 1;

  // The option as a number in [lo, hi], or `fallback` when absent;
  // std::invalid_argument naming the key otherwise.
  std::uint64_t option(const std::string& key, std::uint64_t fallback, std::uint64_t lo, std::uint64_t hi) const;
};

// A workload spec: MODEL[:KEY=VALUE[,KEY=VALUE...]]. Every model takes
// `scale=N`: N times its requests and connections (more of the same
// traffic, so more live bytes, not bigger objects), and `connections=N`:
// that many concurrent connections (after scale). Other keys are the
// model's own options.
struct WorkloadName {
  std::string model;
  std::map<std::string, std::string> options;  // scale included
};
// std::invalid_argument with a one-line reason on a malformed spec.
WorkloadName parse_workload_name(const std::string& spec);

struct Model {
  std::string_view name;
  std::string_view description;  // one line
  std::uint32_t default_requests;
  std::uint32_t default_connections;
  std::uint32_t min_threads;
  std::string_view option_keys;  // "n, size": the options it takes besides scale ("" for none)
  bool experiment;               // a claim experiment, not an HTTP server model: not in a run by default
  Trace (*generate)(const ModelParams& p);  // p has defaults filled in
};

const std::vector<Model>& models();
const Model* find_model(std::string_view name);
std::string model_names();  // "a, b, c"

// Applies scale, fills in defaults, checks the parameters (std::invalid_argument with a
// one-line reason) and generates.
Trace generate(const Model& m, ModelParams p);

}  // namespace alloclab::trace
