#include "harness/allocators_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "allocators/registry.hpp"
#include "workloads/regular_file.hpp"

namespace alloclab {

namespace {

// An allocators file names a few libraries; anything larger is not one.
constexpr std::size_t kMaxBytes = 1 << 20;

// Names every command spells out that no file may take: the harness's own
// backend, the preload prefix, and the general allocators and strategies.
bool reserved(const std::string& name) {
  if (name == "null" || name == "preload") return true;
  return with_registration(name, [](const auto&) {});
}

bool name_char(unsigned char c) { return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '+'; }

// Text from the file, safe to print: control bytes as \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// The whole file: a regular file of at most kMaxBytes (not a directory, a
// device or a FIFO).
std::string read_small_file(const std::string& path) {
  try {
    return read_regular_file(path, kMaxBytes, "an allocators file holds (1 MiB)");
  } catch (const RegularFileError& e) {
    throw AllocatorsFileError("cannot read allocators file '" + path + "': " + e.what());
  }
}

}  // namespace

std::vector<ExternalAllocator> read_allocators_file(const std::string& path) {
  std::istringstream in(read_small_file(path));
  std::string dir = path.find('/') == std::string::npos ? "" : path.substr(0, path.rfind('/') + 1);
  std::vector<ExternalAllocator> out;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    auto where = [&] { return path + ":" + std::to_string(lineno) + ": "; };
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    for (unsigned char c : line)
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
        throw AllocatorsFileError(where() + "a control character in '" + printable(line) + "'");
    std::istringstream fields(line);
    std::string name, lib, extra;
    if (!(fields >> name)) continue;
    if (!(fields >> lib) || (fields >> extra)) throw AllocatorsFileError(where() + "expected 'name path'");
    for (unsigned char c : name)
      if (!name_char(c))
        throw AllocatorsFileError(where() + "name '" + printable(name) +
                                  "' may hold only letters, digits, '_', '-', '.' and '+'");
    if (reserved(name)) throw AllocatorsFileError(where() + "'" + name + "' is a built-in backend name");
    for (const auto& e : out) {
      if (e.name == name) throw AllocatorsFileError(where() + "'" + name + "' is defined twice");
    }
    if (lib.front() != '/') lib = dir + lib;
    out.push_back({name, lib});
  }
  return out;
}

}  // namespace alloclab
