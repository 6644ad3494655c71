#include "allocators/options.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace alloclab {

namespace {

std::uint64_t parse_number(std::string_view key, std::string_view value, bool allow_suffix) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  std::string_view rest(end, static_cast<std::size_t>(value.data() + value.size() - end));
  std::uint64_t mult = 1;
  if (allow_suffix && rest.size() == 1) {
    switch (rest[0]) {
      case 'k': case 'K': mult = 1ull << 10; break;
      case 'm': case 'M': mult = 1ull << 20; break;
      case 'g': case 'G': mult = 1ull << 30; break;
      default: mult = 0;
    }
    if (mult != 0) rest = {};
  }
  if (ec != std::errc{} || !rest.empty() || mult == 0 || n > UINT64_MAX / mult) {
    throw std::invalid_argument("option '" + std::string(key) + "': '" + std::string(value) +
                                "' is not a " + (allow_suffix ? "size (e.g. 4096, 8k, 1m)" : "count"));
  }
  return n * mult;
}

}  // namespace

BackendOptions BackendOptions::parse(std::string_view text) {
  BackendOptions o;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      throw std::invalid_argument("option '" + std::string(item) + "' is not key=value");
    }
    std::string key(item.substr(0, eq));
    for (const auto& [k, v] : o.entries_) {
      if (k == key) throw std::invalid_argument("option '" + key + "' given twice");
    }
    o.entries_.emplace_back(std::move(key), std::string(item.substr(eq + 1)));
  }
  return o;
}

std::optional<std::string_view> BackendOptions::get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) {
      if (std::find(read_.begin(), read_.end(), k) == read_.end()) read_.push_back(k);
      return std::string_view(v);
    }
  }
  if (std::find(read_.begin(), read_.end(), key) == read_.end()) read_.emplace_back(key);
  return std::nullopt;
}

std::uint64_t BackendOptions::size(std::string_view key, std::uint64_t fallback) const {
  auto v = get(key);
  return v ? parse_number(key, *v, true) : fallback;
}

std::uint64_t BackendOptions::count(std::string_view key, std::uint64_t fallback) const {
  auto v = get(key);
  return v ? parse_number(key, *v, false) : fallback;
}

bool BackendOptions::flag(std::string_view key, bool fallback) const {
  auto v = get(key);
  if (!v) return fallback;
  if (*v == "1" || *v == "true" || *v == "on") return true;
  if (*v == "0" || *v == "false" || *v == "off") return false;
  throw std::invalid_argument("option '" + std::string(key) + "': '" + std::string(*v) +
                              "' is not a boolean (true/false)");
}

std::size_t BackendOptions::choice(std::string_view key, std::initializer_list<std::string_view> choices,
                                   std::size_t fallback) const {
  auto v = get(key);
  if (!v) return fallback;
  std::size_t i = 0;
  std::string list;
  for (std::string_view c : choices) {
    if (c == *v) return i;
    list += (i++ ? ", " : "") + std::string(c);
  }
  throw std::invalid_argument("option '" + std::string(key) + "': '" + std::string(*v) + "' is not one of " + list);
}

std::vector<std::string> BackendOptions::unread() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : entries_) {
    if (std::find(read_.begin(), read_.end(), k) == read_.end()) out.push_back(k);
  }
  return out;
}

std::string BackendOptions::to_string() const {
  std::string s;
  for (const auto& [k, v] : entries_) {
    if (!s.empty()) s += ',';
    s += k + '=' + v;
  }
  return s;
}

}  // namespace alloclab
