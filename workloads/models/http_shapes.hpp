// What HTTP request and response heads look like, drawn from the published
// figures in ../shared/http-workload-facts.md (each constant names its row)
// or marked chosen. Every model's server reads heads of this shape.
// Log-normal sizes are fitted from a median and an upper percentile
// (Rng::lognormal_size); workloads/MODELS.md lists every figure.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "workloads/rng.hpp"

namespace alloclab::trace::http {

// URL length: median 67, p95 157, max 993 ("URL length" row, 6.6 M URLs).
// The sample includes scheme and host, so used as the request-target length
// it overestimates by the host's length; the log-normal's mean (76) matches
// the published mean (77).
inline constexpr double kUrlMedian = 67, kUrlP95 = 157;
inline constexpr std::uint32_t kUrlMax = 993;

// Request header fields: ~7 real fields ("request header fields" row).
// Log-normal with median 7; the p95 of 14 is chosen (the row's 12 with
// HTTP/2 pseudo-headers shows how far counts spread). Capped at 64, chosen.
inline constexpr double kRequestFieldsMedian = 7, kRequestFieldsP95 = 14;
inline constexpr std::uint32_t kRequestFieldsMax = 64;

// Response header fields: ~11 real fields ("response header fields" row).
inline constexpr std::uint32_t kResponseFields = 11;

// Header name length: most common 4 and 13 chars ("header name length"
// row). A quarter of names at each mode and the rest uniform over 6..17:
// the split is chosen.
inline constexpr double kNameAt4 = 0.25, kNameAt13 = 0.25;
inline constexpr std::uint32_t kNameOtherMin = 6, kNameOtherMax = 17;

// Header value length: half under 15 chars, 1% over 263 ("header value
// length" row): a log-normal with median 15 and p99 263. Values past
// 4096 are clamped (chosen; one line must fit a large header buffer).
inline constexpr double kValueMedian = 15, kValueP99 = 263;
inline constexpr std::uint32_t kValueMax = 4096;

// Cookie name=value: median 36, p95 181 ("cookie name=value" row). How
// many requests carry a Cookie field and how many cookies it holds are
// chosen (75%, geometric with mean 5) so that the mean bytes of field values
// per request come to about 430 ("request header fields" row: ~430 B of
// values), which the name and value figures alone fall far short of.
inline constexpr double kCookieMedian = 36, kCookieP95 = 181;
inline constexpr double kCookieShare = 0.75, kCookiesMean = 5;
inline constexpr std::uint32_t kCookieMax = 4096;

inline constexpr double kZ95 = 1.6448536269514722, kZ99 = 2.3263478740408408;

// The p95 of the log-normal with this median and p99 (Rng takes a p95).
inline double p95_from_p99(double median, double p99) { return median * std::pow(p99 / median, kZ95 / kZ99); }

struct Field {
  std::uint32_t name = 0;   // bytes
  std::uint32_t value = 0;  // bytes
};

struct Head {
  std::uint32_t target = 0;         // request-target bytes (requests only)
  std::vector<Field> fields;        // in arrival order
  std::uint32_t value_bytes = 0;    // sum of field values
  std::uint32_t bytes = 0;          // start line, fields with ": " and CRLF, blank line
};

class HeadShapes {
 public:
  HeadShapes() : value_p95_(p95_from_p99(kValueMedian, kValueP99)) {}

  std::uint32_t name(Rng& rng) const {
    double u = rng.uniform();
    if (u < kNameAt4) return 4;
    if (u < kNameAt4 + kNameAt13) return 13;
    return static_cast<std::uint32_t>(rng.between(kNameOtherMin, kNameOtherMax));
  }
  std::uint32_t value(Rng& rng) const { return rng.lognormal_size(kValueMedian, value_p95_, 1, kValueMax); }

  // A request head: "METHOD target HTTP/1.1", then the fields. One field
  // (name "Cookie", 6 bytes) holds the cookies when the request has them.
  void request(Rng& rng, std::uint32_t method_bytes, Head& h) const {
    h.fields.clear();
    h.value_bytes = 0;
    h.target = rng.lognormal_size(kUrlMedian, kUrlP95, 1, kUrlMax);
    std::uint32_t n = rng.lognormal_size(kRequestFieldsMedian, kRequestFieldsP95, 1, kRequestFieldsMax);
    bool cookie = rng.chance(kCookieShare);
    for (std::uint32_t i = 0; i < n; ++i) {
      Field f;
      if (cookie && i == n / 2) {
        f.name = 6;
        std::uint32_t k = rng.geometric(kCookiesMean, 64);
        for (std::uint32_t c = 0; c < k; ++c)
          f.value += rng.lognormal_size(kCookieMedian, kCookieP95, 3, kCookieMax) + 2;
        f.value -= 2;  // "; " separates cookies
      } else {
        f.name = name(rng);
        f.value = value(rng);
      }
      h.fields.push_back(f);
    }
    finish(h, method_bytes + 1 + h.target + 1 + 8);
  }

  // A response head: "HTTP/1.1 200 OK" and `n` fields.
  void response(Rng& rng, std::uint32_t n, Head& h) const {
    h.fields.clear();
    h.value_bytes = 0;
    h.target = 0;
    for (std::uint32_t i = 0; i < n; ++i) h.fields.push_back({name(rng), value(rng)});
    finish(h, 15);
  }

 private:
  static void finish(Head& h, std::uint32_t start_line) {
    std::uint32_t bytes = start_line + 2;
    for (const Field& f : h.fields) {
      bytes += f.name + 2 + f.value + 2;
      h.value_bytes += f.value;
    }
    h.bytes = bytes + 2;
  }

  double value_p95_;
};

}  // namespace alloclab::trace::http
