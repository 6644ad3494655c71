// Reading and writing a trace file in either form: the binary form
// (trace_binary.hpp) for replay, the text form (trace_text.hpp) for people
// and tests. Readers tell the forms apart by their first bytes.
#pragma once

#include <string>

#include "workloads/trace.hpp"
#include "workloads/trace_error.hpp"

namespace alloclab::trace {

enum class Form { binary, text };

// Reads, parses and checks; throws TraceError naming the byte or line.
Trace read_trace(const std::string& path);
// Writes atomically; throws WriteError on an I/O failure.
void write_trace(const Trace& t, const std::string& path, Form form = Form::binary);

}  // namespace alloclab::trace
