// alloclab export FILE --format gbench|csv [-o OUT]
#include <iostream>

#include "harness/cli/cli.hpp"
#include "harness/run/export.hpp"
#include "workloads/atomic_file.hpp"

namespace alloclab::cli {

void add_export_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("export", "Write a results file in Google Benchmark JSON or CSV");
  struct Args {
    std::string input, format = "gbench", output;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("results", a->input, "Results file from alloclab run")->required()->type_name("FILE");
  cmd->add_option("--format", a->format,
                  "gbench: Google Benchmark JSON (compare.py reads it); csv: one row per cell and metric")
      ->check(CLI::IsMember({"gbench", "csv"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", a->output, "Output file (default: stdout)")->type_name("FILE");
  cmd->footer("Exit status: 0 written, 2 bad input (unreadable or malformed results, unwritable output).");
  cmd->callback([&ctx, a] {
    ctx.action = [a] {
      run::Results r;
      try {
        r = run::Results::read(a->input);
      } catch (const run::ResultsError& e) {
        std::cerr << "alloclab: " << e.what() << '\n';
        return kExitBadInput;
      }
      std::string text = a->format == "csv" ? run::export_csv(r) : run::export_gbench(r);
      if (a->output.empty()) std::cout << text;
      else write_atomically(a->output, text);
      return kExitOk;
    };
  });
}

}  // namespace alloclab::cli
