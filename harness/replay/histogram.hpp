// A log-linear histogram of nanosecond values (the HdrHistogram idea):
// values below 32 get a bucket each; above, each power of two is split into
// 16 linear sub-buckets, so any recorded value is known within 1/16 (6.25%).
// 1,000-odd counters, no allocation after construction, mergeable.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace alloclab::replay {

class Histogram {
 public:
  static constexpr int kSubBits = 4;                 // 16 sub-buckets per power of two
  static constexpr int kLinear = 2 << kSubBits;      // values below 32 are exact
  static constexpr int kBuckets = kLinear + (64 - kSubBits - 1) * (1 << kSubBits);

  void record(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++count_;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
    sum_ += v;
  }
  void merge(const Histogram& o) noexcept {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    if (o.max_ > max_) max_ = o.max_;
    if (o.min_ < min_) min_ = o.min_;
  }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }

  // The value at quantile q (0..1): the upper edge of the bucket holding the
  // nearest-rank sample, capped at the largest value recorded.
  std::uint64_t quantile(double q) const noexcept {
    if (count_ == 0) return 0;
    std::uint64_t rank = static_cast<std::uint64_t>(q * static_cast<double>(count_));
    if (rank >= count_) rank = count_ - 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > rank) return std::min(upper(i), max_);
    }
    return max_;
  }

  static int index(std::uint64_t v) noexcept {
    if (v < kLinear) return static_cast<int>(v);
    int msb = 63 - std::countl_zero(v);  // >= kSubBits + 1
    int sub = static_cast<int>((v >> (msb - kSubBits)) & ((1 << kSubBits) - 1));
    return kLinear + (msb - kSubBits - 1) * (1 << kSubBits) + sub;
  }
  static std::uint64_t lower(int i) noexcept {
    if (i < kLinear) return static_cast<std::uint64_t>(i);
    int j = i - kLinear;
    int msb = j / (1 << kSubBits) + kSubBits + 1;
    std::uint64_t sub = static_cast<std::uint64_t>(j % (1 << kSubBits));
    return (std::uint64_t{1} << msb) + (sub << (msb - kSubBits));
  }
  static std::uint64_t upper(int i) noexcept { return i + 1 < kBuckets ? lower(i + 1) - 1 : UINT64_MAX; }

  // {count, mean, min, p50, p90, p99, p999, max, buckets: [[lower, count], ...]}
  nlohmann::json to_json() const;
  static Histogram from_json(const nlohmann::json& j);

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
};

}  // namespace alloclab::replay
