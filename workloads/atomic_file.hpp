// Writing a file so that readers never see half of it: the bytes go to a
// temporary file in the same directory, are flushed, and the temporary is
// renamed over the target. On any failure the temporary is removed and
// WriteError says what failed.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace alloclab {

// A file that could not be written (no such directory, no permission, disk
// full): the command line reports it as bad input.
struct WriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// write(fd) writes the content and returns false on failure (errno set).
void write_atomically(const std::string& path, const std::function<bool(int fd)>& write);
void write_atomically(const std::string& path, std::string_view content);

// Writes all of [data, data + n) to fd, retrying short writes and EINTR.
bool write_all(int fd, const void* data, std::size_t n);

}  // namespace alloclab
