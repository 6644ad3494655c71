// Reading an input file whole, as every reader of a hostile input does: a
// regular file only (a device would read forever, a FIFO block, a folder
// mean nothing), opened without blocking, of at most a given size.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace alloclab {

// what(): "cannot open: <strerror>", "not a regular file",
// "N bytes, more than LIMIT" or "cannot read: <strerror>"; the caller adds
// the file's name and its own kind of error.
struct RegularFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `limit` names the bound in the message ("1 MiB").
std::string read_regular_file(const std::string& path, std::uint64_t max_bytes = UINT64_MAX,
                              const std::string& limit = "");

}  // namespace alloclab
