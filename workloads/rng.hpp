// Deterministic random numbers for the generators: the same seed gives the
// same trace on every machine with the same libm. The standard library's
// distributions are not specified bit-for-bit across implementations, so
// the few we need are written out here over xoshiro256** (Blackman & Vigna).
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>

namespace alloclab::trace {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    // splitmix64 expands the seed into the state (as the xoshiro authors advise).
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [lo, hi] (hi - lo small against 2^64: the bias is negligible).
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + next() % (hi - lo + 1); }
  bool chance(double p) { return uniform() < p; }

  // Standard normal by Box-Muller.
  double normal() {
    double u1 = uniform();
    double u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  // Log-normal given its median and its 95th percentile (sigma follows from
  // p95 = median * exp(1.645 sigma)): the shape published size figures give.
  double lognormal(double median, double p95) {
    double sigma = std::log(p95 / median) / 1.6448536269514722;
    return median * std::exp(sigma * normal());
  }
  // As above, rounded and clamped to [lo, hi].
  std::uint32_t lognormal_size(double median, double p95, std::uint32_t lo, std::uint32_t hi) {
    double v = std::round(lognormal(median, p95));
    if (v < lo) return lo;
    if (v > hi) return hi;
    return static_cast<std::uint32_t>(v);
  }

  // Geometric count >= 1 with the given mean (mean >= 1).
  std::uint32_t geometric(double mean, std::uint32_t cap) {
    double p = 1.0 / mean;
    double u = uniform();
    double k = std::floor(std::log1p(-u) / std::log1p(-p)) + 1;
    if (!(k < cap)) return cap;
    return static_cast<std::uint32_t>(k);
  }

  // Index drawn with the given weights.
  std::size_t pick(std::span<const double> weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = uniform() * total;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace alloclab::trace
