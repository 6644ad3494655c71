// alloclab report RESULTS.json [--scaling MANYCORE.json] [--serve SERVE.json]
// [-o DIR]: the charts, the seed document's comparison tables and the claims
// ledger; --scaling names a results file from a machine with enough cores for
// the scaling claims, which report.py takes the scaling figures from; --serve
// names an `alloclab serve` document, which report.py checks and reads for the
// real-server section and claims. The work is done by
// harness/report/report.py (matplotlib draws the charts), run under Debian's
// python3, which has python3-matplotlib; this command checks the input, finds
// the interpreter and the script, and passes the exit status on.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "harness/cli/cli.hpp"
#include "harness/run/results.hpp"

namespace alloclab::cli {
namespace {

namespace fs = std::filesystem;

// ALLOCLAB_REPORT_DIR overrides where the scripts are (an installed copy).
// An unpacked bundle (scripts/bundle.sh: ROOT/bin/alloclab beside
// ROOT/MANIFEST) uses its own ROOT/report/; a build uses the source tree's.
fs::path report_script() {
  if (const char* dir = std::getenv("ALLOCLAB_REPORT_DIR")) return fs::path(dir) / "report.py";
  std::error_code ec;
  fs::path root = fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path();
  if (!ec && fs::exists(root / "MANIFEST", ec) && fs::exists(root / "report" / "report.py", ec))
    return root / "report" / "report.py";
  return fs::path(ALLOCLAB_SOURCE_DIR) / "harness" / "report" / "report.py";
}

// Debian's interpreter first: a python3 earlier on PATH (pyenv, a venv)
// usually lacks Debian's matplotlib. ALLOCLAB_PYTHON overrides.
std::string python() {
  if (const char* p = std::getenv("ALLOCLAB_PYTHON")) return p;
  if (::access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

int run_script(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::cerr << "alloclab report: fork failed\n";
    return kExitInternal;
  }
  if (pid == 0) {
    ::execvp(argv[0], argv.data());
    // 127 is what a shell reports for a command it cannot find.
    std::_Exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 127) {
      std::cerr << "alloclab report: cannot run " << args[0] << " (apt-get install python3 python3-matplotlib)\n";
      return kExitMissingDependency;
    }
    return WEXITSTATUS(status);
  }
  std::cerr << "alloclab report: " << args[1] << " died with signal " << WTERMSIG(status) << '\n';
  return kExitInternal;
}

}  // namespace

void add_report_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "report", "Write report.md, a self-contained report.html, charts (PNG, SVG) and the claims ledger's verdicts");
  struct Args {
    std::string input, output, scaling, serve;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("results", a->input, "Results file from alloclab run or merge")->required()->type_name("FILE");
  cmd->add_option("-o,--output", a->output, "Output folder (default: the results file's folder)")->type_name("DIR");
  cmd->add_option("--scaling", a->scaling,
                  "Results file with a thread sweep from a machine with enough cores (at least the scaling claims' "
                  "min_cores): the scaling claims, chart and tables come from it")
      ->type_name("FILE");
  cmd->add_option("--serve", a->serve,
                  "Server results from alloclab serve: a Real servers section, a Node.js GC chart, the tradeoff "
                  "matrix's real-server columns and the server claims read it")
      ->type_name("FILE");
  cmd->footer(
      "Writes DIR/report.md, DIR/report.html (charts embedded, opens offline), DIR/charts/NAME.{png,svg} and\n"
      "DIR/verdicts.json (every claim of harness/report/claims.json with the verdict computed from the results).\n"
      "The same results give byte-identical files.\n\n"
      "--scaling FILE: the scaling claims, the scaling chart and tables read FILE (a run or a merge) instead of\n"
      "RESULTS; each scaling figure names the machine (cpu, cores, date) it came from. FILE must have a thread\n"
      "sweep on a machine with at least the cores the scaling claims need, else exit 2.\n\n"
      "--serve FILE: an alloclab serve document (real servers under each general allocator): the report gains a\n"
      "Real servers section (the servers per allocator, the comparisons against the baseline allocator, whether the\n"
      "replay predicts each server, Node.js garbage collection and its chart) and the real-server columns of the\n"
      "tradeoff matrix; the server claims read it (without --serve they are inconclusive). A malformed FILE is\n"
      "exit 2.\n\n"
      "The files are built in DIR/.report.tmp.PID.XXXXXX and renamed into place (report.html last), so a failure\n"
      "leaves DIR as it was.\n\n"
      "Exit status: 0 written, 1 internal error (ALLOCLAB_DEBUG=1 prints the traceback), 2 bad input (unreadable or\n"
      "malformed results, DIR not a folder or not writable, a full disk), 4 python3 or matplotlib missing\n"
      "(apt-get install python3-matplotlib), 130 interrupted.");
  cmd->callback([&ctx, a] {
    ctx.action = [a] {
      try {
        run::Results::read(a->input);
        if (!a->scaling.empty()) run::Results::read(a->scaling);
      } catch (const run::ResultsError& e) {
        std::cerr << "alloclab: " << e.what() << '\n';
        return kExitBadInput;
      }
      std::string out = a->output;
      if (out.empty()) out = fs::path(a->input).parent_path().empty() ? "." : fs::path(a->input).parent_path().string();
      fs::path script = report_script();
      if (!fs::exists(script)) {
        std::cerr << "alloclab report: " << script.string() << " not found (set ALLOCLAB_REPORT_DIR)\n";
        return kExitMissingDependency;
      }
      std::vector<std::string> args = {python(), script.string(), a->input, "-o", out};
      if (!a->scaling.empty()) args.insert(args.end(), {"--scaling", a->scaling});
      if (!a->serve.empty()) args.insert(args.end(), {"--serve", a->serve});
      return run_script(args);
    };
  });
}

}  // namespace alloclab::cli
