// Writing a file so that readers never see half of it: the bytes go to a
// temporary file in the target's directory, are flushed, and the temporary
// is renamed over the target. On any failure the temporary is removed and
// WriteError says what failed.
//
// The target is what the path names in the end: a symbolic link is followed
// (its target is replaced, the link stays), and a character device or a FIFO
// (`-o /dev/null`, a pipe) is written directly, since renaming a file over
// it would replace the node. Other kinds (a directory, a block device, a
// socket) are refused. Temporaries are named TARGET.tmp.PID.XXXXXX, so a
// later write to the same target removes those of processes that died
// (SIGKILL) and leaves a live writer's alone.
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

// The path a write to `path` replaces: symbolic links followed to their last
// target, which need not exist. Throws WriteError for a loop.
std::string resolve_output_path(const std::string& path);

// Removes TARGET.tmp.PID.* files whose PID is no longer running.
void remove_stale_temporaries(const std::string& target);

}  // namespace alloclab
