// Writing a file so that readers never see half of it: the bytes go to a
// temporary file in the same directory, are flushed, and the temporary is
// renamed over the target. On any failure the temporary is removed and
// std::runtime_error says what failed.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace alloclab {

// write(fd) writes the content and returns false on failure (errno set).
void write_atomically(const std::string& path, const std::function<bool(int fd)>& write);
void write_atomically(const std::string& path, std::string_view content);

// Writes all of [data, data + n) to fd, retrying short writes and EINTR.
bool write_all(int fd, const void* data, std::size_t n);

}  // namespace alloclab
