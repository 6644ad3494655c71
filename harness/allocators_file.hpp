// The allocators file: names for preload libraries, one "name path" per
// line (as mimalloc-bench's --external), '#' starts a comment. A relative
// path is taken from the file's folder. With it, `--backends snmalloc` and
// `bump@snmalloc` work like the built-in names.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "allocators/spec.hpp"

namespace alloclab {

class AllocatorsFileError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws AllocatorsFileError "FILE:LINE: problem" for an unreadable file, a
// malformed line, a duplicate name, or a name that shadows a built-in one.
std::vector<ExternalAllocator> read_allocators_file(const std::string& path);

}  // namespace alloclab
