// Shared pieces of the alloclab command line. Each command lives in its own
// file and registers itself with add_*_command().
//
// Exit statuses (documented in --help):
//   0  success
//   1  internal error (a bug in alloclab)
//   2  bad input: unknown backend, malformed flag or file
//   3  some cells failed (a worker crashed, hung, or refused to run)
//   4  a missing dependency (report: python3 or matplotlib)
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "allocators/spec.hpp"

namespace alloclab::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitCellsFailed = 3;
inline constexpr int kExitMissingDependency = 4;

struct Context {
  std::string allocators_file;
  // The command chosen on the command line; returns the exit status.
  std::function<int()> action;

  // Names from --allocators (read on first use; throws AllocatorsFileError).
  const std::vector<ExternalAllocator>& externals();
  // Parses a comma-separated list of specs; throws SpecError.
  std::vector<BackendSpec> parse_backends(const std::string& list);

 private:
  bool loaded_ = false;
  std::vector<ExternalAllocator> externals_;
};

void add_list_command(CLI::App& app, Context& ctx);
void add_smoke_command(CLI::App& app, Context& ctx);
void add_run_command(CLI::App& app, Context& ctx);
void add_merge_command(CLI::App& app, Context& ctx);
void add_export_command(CLI::App& app, Context& ctx);
// `alloclab compare`: exit status 1 means some group regressed (as diff and cmp).
void add_compare_command(CLI::App& app, Context& ctx);
// `alloclab report`: charts, the document's tables and the claims ledger
// (harness/report/*.py under Debian's python3 with matplotlib).
void add_report_command(CLI::App& app, Context& ctx);
// `alloclab serve`: real servers under each general allocator (harness/serve/).
void add_serve_command(CLI::App& app, Context& ctx);
// `alloclab trace ...`: info, gen, text, binary (trace_command.cpp), which
// adds capture and scopes (capture_command.cpp) to its group.
void add_trace_command(CLI::App& app, Context& ctx);
void add_trace_capture_command(CLI::App& trace, Context& ctx);
void add_trace_scopes_command(CLI::App& trace, Context& ctx);

// A whole number from 0 to 2^64 - 1, written in decimal digits only (no
// sign, no wrap-around): for seeds. Its message names the range.
const CLI::Validator& uint64_digits();

// Splits "a,b,c", dropping empty items; a comma inside [...] (settings,
// "jemalloc[a=1,b=2]") or inside a strategy's options ("bump:a=1,b=2") does
// not split.
std::vector<std::string> split_list(const std::string& text);

// Capabilities as "frees,scoped,threads" (or "-").
std::string capability_names(bool frees, bool scoped, bool threads);

}  // namespace alloclab::cli
