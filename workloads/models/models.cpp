#include "workloads/models/model.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>

#include "workloads/models/generators.hpp"

namespace alloclab::trace {

namespace {
constexpr std::uint32_t kMaxRequests = 10'000'000;
constexpr std::uint32_t kMaxConnections = 1'000'000;
}  // namespace

const std::vector<Model>& models() {
  static const std::vector<Model> list = {
      http1_static_model, http_api_model, http_upload_model, proxy_model, long_running_model,
      scope_sweep_model,  small_objects_model, idle_connections_model,
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


std::uint64_t ModelParams::option(const std::string& key, std::uint64_t fallback, std::uint64_t lo,
                                  std::uint64_t hi) const {
  auto it = options.find(key);
  if (it == options.end()) return fallback;
  const std::string& v = it->second;
  std::uint64_t x = 0;
  bool ok = !v.empty() && v.size() <= 19;
  for (char ch : v) {
    if (ch < '0' || ch > '9') ok = false;
    else x = x * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  if (!ok || x < lo || x > hi)
    throw std::invalid_argument("option " + key + "=" + v + ": must be a whole number from " + std::to_string(lo) +
                                " to " + std::to_string(hi));
  return x;
}

WorkloadName parse_workload_name(const std::string& spec) {
  WorkloadName w;
  auto colon = spec.find(':');
  w.model = spec.substr(0, colon);
  if (colon == std::string::npos) return w;
  std::string rest = spec.substr(colon + 1);
  if (rest.empty()) throw std::invalid_argument("'" + spec + "': nothing after ':' (MODEL:KEY=VALUE,...)");
  std::size_t start = 0;
  while (start <= rest.size()) {
    auto comma = rest.find(',', start);
    std::string item = rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw std::invalid_argument("'" + spec + "': '" + item + "' is not KEY=VALUE");
    if (!w.options.emplace(item.substr(0, eq), item.substr(eq + 1)).second)
      throw std::invalid_argument("'" + spec + "': " + item.substr(0, eq) + " given twice");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return w;
}

Trace generate(const Model& m, ModelParams p) {
  for (const auto& [key, value] : p.options) {
    if (key == "scale" || key == "connections") continue;
    bool known = false;
    std::string_view keys = m.option_keys;
    while (!keys.empty()) {
      auto comma = keys.find(',');
      std::string_view k = keys.substr(0, comma);
      while (!k.empty() && k.front() == ' ') k.remove_prefix(1);
      if (k == key) known = true;
      keys = comma == std::string_view::npos ? std::string_view{} : keys.substr(comma + 1);
    }
    if (!known)
      throw std::invalid_argument(std::string(m.name) + " has no option '" + key + "'; options: scale, connections" +
                                  (m.option_keys.empty() ? "" : ", " + std::string(m.option_keys)));
  }
  const std::uint64_t scale = p.option("scale", 1, 1, 4096);
  if (p.requests == 0) p.requests = m.default_requests;
  if (p.connections == 0) p.connections = m.default_connections;
  if (scale > 1) {
    p.requests = static_cast<std::uint32_t>(std::min<std::uint64_t>(p.requests * scale, kMaxRequests + 1ULL));
    p.connections = static_cast<std::uint32_t>(std::min<std::uint64_t>(p.connections * scale, kMaxConnections + 1ULL));
  }
  if (p.options.count("connections"))
    p.connections = static_cast<std::uint32_t>(p.option("connections", 0, 1, kMaxConnections));
  if (p.copies > 1) {
    p.requests = static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{p.requests} * p.copies, kMaxRequests + 1ULL));
    p.connections =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{p.connections} * p.copies, kMaxConnections + 1ULL));
  }
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
