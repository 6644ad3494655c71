// alloclab: replays HTTP-shaped allocation traces against interchangeable
// allocators and reports latency, footprint and scaling.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "harness/allocators_file.hpp"
#include "harness/cli/cli.hpp"
#include "harness/run/results.hpp"
#include "workloads/atomic_file.hpp"
#include "workloads/trace_error.hpp"

namespace alloclab::cli {

const std::vector<ExternalAllocator>& Context::externals() {
  if (!loaded_ && !allocators_file.empty()) externals_ = read_allocators_file(allocators_file);
  loaded_ = true;
  return externals_;
}

std::vector<BackendSpec> Context::parse_backends(const std::string& list) {
  std::vector<BackendSpec> out;
  for (const auto& item : split_list(list)) out.push_back(parse_backend_spec(item, externals()));
  if (out.empty()) throw SpecError("--backends is empty; valid: " + backend_choices(externals()));
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    // Settings use commas too ("jemalloc[a=1,b=2]"): none inside brackets splits.
    for (auto open = text.find('[', start); comma != std::string::npos && open < comma;) {
      auto close = text.find(']', open);
      if (close == std::string::npos) {
        comma = std::string::npos;
        break;
      }
      comma = text.find(',', close);
      open = text.find('[', close);
    }
    if (comma == std::string::npos) comma = text.size();
    // Strategy options use commas too ("bump:a=1,b=2@glibc"): an item
    // without '=' after a ':' item continues it only when it holds '='.
    std::string item = text.substr(start, comma - start);
    // ("jemalloc[a=1]" is an item of its own: its '[' comes before any '=').
    if (!item.empty() && !out.empty() && item.find('=') != std::string::npos && item.find('=') < item.find('[') &&
        item.find(':') == std::string::npos && out.back().find(':') != std::string::npos &&
        out.back().find('@') == std::string::npos) {
      out.back() += "," + item;
    } else if (!item.empty()) {
      out.push_back(item);
    }
    start = comma + 1;
  }
  return out;
}

const CLI::Validator& uint64_digits() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        const std::string max = "18446744073709551615";
        bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
        std::string trimmed = digits ? s.substr(std::min(s.find_first_not_of('0'), s.size() - 1)) : s;
        if (digits && (trimmed.size() < max.size() || (trimmed.size() == max.size() && trimmed <= max))) return "";
        return "'" + s + "' is not a whole number from 0 to " + max;
      },
      "UINT64");
  return v;
}

std::string capability_names(bool frees, bool scoped, bool threads) {
  std::string s;
  if (frees) s += "frees,";
  if (scoped) s += "scoped,";
  if (threads) s += "threads,";
  if (s.empty()) return "-";
  s.pop_back();
  return s;
}

// What a command wrote to standard output reached it, or the run says so:
// a write error (a full disk, /dev/full) is bad input, one line, exit 2,
// whatever the command returned. Closing catches errors a flush defers.
int check_stdout(int status) {
  std::cout.flush();
  bool failed = !std::cout;
  int err = errno;
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) failed = true, err = errno;
  // A standard output closed from the start (`>&-`) is not a write error.
  if (std::fclose(stdout) != 0 && errno != EBADF) failed = true, err = errno;
  if (!failed) return status;
  std::cerr << "alloclab: cannot write standard output: " << std::strerror(err ? err : EIO) << '\n';
  return kExitBadInput;
}

}  // namespace alloclab::cli

int main(int argc, char** argv) {
  using namespace alloclab;
  using namespace alloclab::cli;
  CLI::App app{"alloclab: replay HTTP-shaped allocation traces against interchangeable allocators"};
  app.name("alloclab");
  app.require_subcommand(1, 1);
  app.footer(
      "Backends: glibc, jemalloc, mimalloc, tcmalloc, each optionally LIB[key=value,...] with its\n"
      "library's settings; STRATEGY[:k=v,...][@BASE] (bump@jemalloc[thp=always]);\n"
      "preload:/path/lib.so; or a name from --allocators FILE ('name path' per line).\n\n"
      "Exit status: 0 success, 1 internal error, 2 bad input (unknown backend,\n"
      "malformed flag or file), 3 some cells failed (crash, hang, refused allocator),\n"
      "4 a missing dependency (report: python3, matplotlib). compare exits 1 when a group\n"
      "regressed, as diff and cmp do.");
  Context ctx;
  app.add_option("--allocators", ctx.allocators_file,
                 "File naming preload libraries, one 'name path' per line")
      ->type_name("FILE");
  add_list_command(app, ctx);
  add_smoke_command(app, ctx);
  add_trace_command(app, ctx);
  add_run_command(app, ctx);
  add_merge_command(app, ctx);
  add_export_command(app, ctx);
  add_compare_command(app, ctx);
  add_report_command(app, ctx);
  add_serve_command(app, ctx);

  // Name an unknown command outright (CLI11 would only say one is required).
  if (argc > 1 && argv[1][0] != '-') {
    std::string cmd = argv[1];
    bool known = false;
    std::string names;
    for (const auto* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == cmd;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::cerr << "alloclab: unknown command '" << cmd << "'; commands: " << names << " (see alloclab --help)\n";
      return kExitBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "alloclab: " << e.what() << " (see alloclab --help)\n";
    return kExitBadInput;
  }
  try {
    // A broken allocators file is bad input whether or not the command
    // needs a name from it.
    if (!ctx.allocators_file.empty()) ctx.externals();
    return check_stdout(ctx.action ? ctx.action() : kExitOk);
  } catch (const SpecError& e) {
    std::cerr << "alloclab: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const trace::TraceError& e) {
    std::cerr << "alloclab: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const WriteError& e) {
    std::cerr << "alloclab: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const AllocatorsFileError& e) {
    std::cerr << "alloclab: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const run::ResultsError& e) {
    std::cerr << "alloclab: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "alloclab: internal error: " << e.what() << '\n';
    return kExitInternal;
  }
}
