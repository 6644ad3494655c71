// Backend specs: the names users type.
//
//   NAME                      a general allocator (glibc, jemalloc, mimalloc,
//                             tcmalloc) or a name from an allocators file
//   LIB[key=value,...]        a general allocator with its documented
//                             settings (allocators/general/settings.hpp):
//                             jemalloc[dirty_decay_ms=0,thp=always]
//   preload:/path/lib.so      any malloc-replacing shared library
//   STRATEGY[:k=v,...][@BASE] a strategy with options, over a general
//                             allocator as its base (default glibc):
//                             bump:first_chunk=16k@jemalloc,
//                             bump@jemalloc[thp=always]
//
// The canonical form of settings sorts them by key and writes each value in
// its canonical form (booleans true|false, sizes in bytes), so two spellings
// of one configuration are one backend.
#pragma once

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "allocators/general/library.hpp"
#include "allocators/general/settings.hpp"
#include "allocators/options.hpp"

namespace alloclab {

// A named preload library, from an allocators file ("name path" per line).
struct ExternalAllocator {
  std::string name;
  std::string path;
};

struct BackendSpec {
  // Registry name of the strategy; empty when the spec is a general
  // allocator on its own.
  std::string strategy;
  BackendOptions options;
  // The allocator answering malloc: a known library, or a preload path.
  // Exactly one of the two is set.
  std::optional<Library> library;
  std::string preload_path;
  // The base as the user named it ("jemalloc", "snmalloc", "preload:/x.so").
  std::string base_name;
  // The library's settings (only with `library`); empty for its defaults.
  AllocatorSettings settings;

  bool is_general() const noexcept { return strategy.empty(); }
  // The library to LD_PRELOAD; empty for glibc.
  std::string preload() const;
  // NAME=value entries the worker's environment needs for the settings.
  std::vector<std::string> environment() const;
  // A spec string that parses back to this spec without an allocators file.
  std::string canonical() const;
  // As the user should read it: "bump@jemalloc", "snmalloc",
  // "jemalloc[thp=always]".
  std::string display() const;
};

class SpecError : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Parses a spec; throws SpecError with a one-line message naming the problem
// and the valid choices.
BackendSpec parse_backend_spec(std::string_view text,
                               std::span<const ExternalAllocator> externals = {});

// The valid choices, for error messages and --help.
std::string backend_choices(std::span<const ExternalAllocator> externals = {});

}  // namespace alloclab
