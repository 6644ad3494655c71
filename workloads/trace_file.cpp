#include "workloads/trace_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "workloads/atomic_file.hpp"
#include "workloads/trace_binary.hpp"
#include "workloads/trace_text.hpp"

namespace alloclab::trace {

namespace {
Trace read_any(const std::string& path) {
  char head[16] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw TraceError("", std::string("cannot open: ") + std::strerror(errno));
    in.read(head, sizeof head);
  }
  if (!looks_like_text(std::string_view(head, sizeof head))) return read_file(path);
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return from_text(text);
}
}  // namespace

Trace read_trace(const std::string& path) {
  try {
    return read_any(path);
  } catch (const TraceError& e) {
    throw TraceError(e.where().empty() ? path : path + ": " + e.where(), e.problem());
  }
}

void write_trace(const Trace& t, const std::string& path, Form form) {
  if (form == Form::binary) return write_file(t, path);
  write_atomically(path, to_text(t));
}

}  // namespace alloclab::trace
