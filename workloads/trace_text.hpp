// The text form of a trace, for people and tests. It holds exactly what the
// binary form holds, so binary -> text -> binary gives the same bytes.
//
//   alloclab-trace 1
//   threads 2 slots 3 scopes 2 edges 1
//   meta {"model":"example"}
//   thread 0 ops 6
//   open 0 connection
//   open 1 request parent=0
//   alloc 0 64 scope=1
//   alloc 1 4096 align=64
//   release 0
//   close 1
//   ...
//   thread 1 ops 2
//   wait 0
//   free 1
//
// Op lines: alloc SLOT SIZE [align=A] [scope=S] | free SLOT | release SLOT |
// realloc SLOT SIZE | open SCOPE connection|request|child [parent=P] |
// close SCOPE | signal EDGE | wait EDGE | think NS. Blank lines and lines
// starting with '#' are skipped. Errors name the line.
#pragma once

#include <string>
#include <string_view>

#include "workloads/trace.hpp"
#include "workloads/trace_error.hpp"

namespace alloclab::trace {

std::string to_text(const Trace& t);
// Parses and checks; throws TraceError ("line N: ...").
Trace from_text(std::string_view text);

// True when the file starts like the text form (for commands that take either).
bool looks_like_text(std::string_view head);

}  // namespace alloclab::trace
