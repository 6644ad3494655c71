#include "workloads/models/model.hpp"

#include <stdexcept>

#include "workloads/models/generators.hpp"

namespace alloclab::trace {

const std::vector<Model>& models() {
  static const std::vector<Model> list = {
      http1_static_model, http_api_model, http_upload_model, proxy_model, long_running_model,
  };
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

namespace {
constexpr std::uint32_t kMaxRequests = 10'000'000;
constexpr std::uint32_t kMaxConnections = 1'000'000;
}  // namespace

Trace generate(const Model& m, ModelParams p) {
  if (p.requests == 0) p.requests = m.default_requests;
  if (p.connections == 0) p.connections = m.default_connections;
  // Bounds that keep slot, scope and edge ids well within 32 bits (a
  // request opens at most a few scopes and leaves at most a few slots).
  if (p.requests > kMaxRequests)
    throw std::invalid_argument("--requests must be at most " + std::to_string(kMaxRequests));
  if (p.connections > kMaxConnections)
    throw std::invalid_argument("--connections must be at most " + std::to_string(kMaxConnections));
  if (p.threads == 0 || p.threads > kMaxThreads)
    throw std::invalid_argument("--threads must be 1.." + std::to_string(kMaxThreads));
  if (p.threads < m.min_threads)
    throw std::invalid_argument(std::string(m.name) + " needs at least " + std::to_string(m.min_threads) + " threads");
  return m.generate(p);
}

}  // namespace alloclab::trace
