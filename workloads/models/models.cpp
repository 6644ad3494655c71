#include "workloads/models/model.hpp"

#include <stdexcept>

namespace alloclab::trace {

const std::vector<Model>& models() {
  static const std::vector<Model> list = {};
  return list;
}

const Model* find_model(std::string_view name) {
  for (const auto& m : models())
    if (m.name == name) return &m;
  return nullptr;
}

std::string model_names() {
  std::string s;
  for (const auto& m : models()) s += (s.empty() ? "" : ", ") + std::string(m.name);
  return s;
}

Trace generate(const Model& m, ModelParams p) {
  if (p.requests == 0) p.requests = m.default_requests;
  if (p.connections == 0) p.connections = m.default_connections;
  if (p.threads == 0 || p.threads > kMaxThreads)
    throw std::invalid_argument("--threads must be 1.." + std::to_string(kMaxThreads));
  if (p.threads < m.min_threads)
    throw std::invalid_argument(std::string(m.name) + " needs at least " + std::to_string(m.min_threads) + " threads");
  return m.generate(p);
}

}  // namespace alloclab::trace
