#include "harness/replay/histogram.hpp"

namespace alloclab::replay {

nlohmann::json Histogram::to_json() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (int i = 0; i < kBuckets; ++i)
    if (counts_[i]) buckets.push_back({lower(i), counts_[i]});
  return {{"count", count_}, {"mean", mean()},          {"min", min()},
          {"p50", quantile(0.5)}, {"p90", quantile(0.9)}, {"p99", quantile(0.99)},
          {"p999", quantile(0.999)}, {"max", max_},      {"sum", sum_},
          {"buckets", buckets}};
}

Histogram Histogram::from_json(const nlohmann::json& j) {
  Histogram h;
  for (const auto& b : j.at("buckets")) h.counts_[index(b.at(0).get<std::uint64_t>())] += b.at(1).get<std::uint64_t>();
  h.count_ = j.at("count").get<std::uint64_t>();
  h.sum_ = j.value("sum", std::uint64_t{0});
  h.max_ = j.at("max").get<std::uint64_t>();
  h.min_ = h.count_ ? j.at("min").get<std::uint64_t>() : UINT64_MAX;
  return h;
}

}  // namespace alloclab::replay
