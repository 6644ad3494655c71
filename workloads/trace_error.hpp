// The one error a trace reader, checker or generator raises. Its message
// names where the problem is (a byte offset in a binary file, a line in a
// text file) and what it is: "byte 1072: free of slot 7, which is not live".
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace alloclab::trace {

class TraceError : public std::runtime_error {
 public:
  TraceError(std::string where, const std::string& problem)
      : std::runtime_error(where.empty() ? problem : where + ": " + problem),
        where_(std::move(where)),
        problem_(problem) {}
  const std::string& where() const { return where_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string where_;
  std::string problem_;
};

inline std::string at_byte(std::uint64_t offset) { return "byte " + std::to_string(offset); }

// A fault in the op stream, before it is placed in a file: thread and index
// within that thread's stream. Readers turn it into a TraceError.
struct OpFault {
  std::uint32_t thread;
  std::uint64_t index;
  std::string problem;
};

}  // namespace alloclab::trace
