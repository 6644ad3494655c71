// Per-backend options given in a backend spec ("bump:first_chunk=16k").
//
// A backend reads the keys it understands in its constructor; keys left
// unread afterwards are an error the registry reports with the keys the
// backend did read, so no backend has to declare its option list twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alloclab {

class BackendOptions {
 public:
  BackendOptions() = default;

  // Parses "k=v,k=v". Throws std::invalid_argument on a malformed list.
  static BackendOptions parse(std::string_view text);

  // A size with an optional k/m/g suffix (powers of 1024). Throws
  // std::invalid_argument when the value is not such a size.
  std::uint64_t size(std::string_view key, std::uint64_t fallback) const;
  std::uint64_t count(std::string_view key, std::uint64_t fallback) const;
  bool flag(std::string_view key, bool fallback) const;
  // One of `choices` (index returned); fallback when the key is absent.
  // Throws std::invalid_argument naming the choices otherwise.
  std::size_t choice(std::string_view key, std::initializer_list<std::string_view> choices,
                     std::size_t fallback) const;

  bool empty() const noexcept { return entries_.empty(); }
  // Keys given but never read; the names that were read.
  std::vector<std::string> unread() const;
  std::vector<std::string> read_keys() const { return read_; }
  // "k=v,k=v" in the order given (canonical form for a spec).
  std::string to_string() const;

 private:
  std::optional<std::string_view> get(std::string_view key) const;

  std::vector<std::pair<std::string, std::string>> entries_;
  mutable std::vector<std::string> read_;
};

}  // namespace alloclab
