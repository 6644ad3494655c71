// alloclab export FILE --format gbench|csv [-o OUT]
#include <iostream>

#include "harness/cli/cli.hpp"
#include "harness/run/export.hpp"
#include "harness/serve/serve_results.hpp"
#include "workloads/atomic_file.hpp"
#include "workloads/regular_file.hpp"

namespace alloclab::cli {

void add_export_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("export", "Write a results file in Google Benchmark JSON or CSV");
  struct Args {
    std::string input, format = "gbench", output;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("results", a->input, "Results file from alloclab run, or alloclab serve (csv only)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--format", a->format,
                  "gbench: Google Benchmark JSON (compare.py reads it); csv: one row per cell and metric")
      ->check(CLI::IsMember({"gbench", "csv"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", a->output, "Output file (default: stdout)")->type_name("FILE");
  cmd->footer("Exit status: 0 written, 2 bad input (unreadable or malformed results, unwritable output).");
  cmd->callback([&ctx, a] {
    ctx.action = [a] {
      run::Results r;
      std::string text;
      try {
        std::string input;
        try {
          input = read_regular_file(a->input, std::uint64_t{2} << 30, "2 GiB");
        } catch (const RegularFileError& e) {
          throw run::ResultsError(a->input + ": " + e.what());
        }
        if (serve::mentions_serve_format(input)) {
          auto doc = serve::parse_serve_results(input, a->input);
          if (a->format != "csv") throw run::ResultsError(a->input + ": server results export as csv only (--format csv)");
          text = serve::export_serve_csv(doc);
        } else {
          r = run::Results::parse(input, a->input);
          text = a->format == "csv" ? run::export_csv(r) : run::export_gbench(r);
        }
      } catch (const run::ResultsError& e) {
        std::cerr << "alloclab: " << e.what() << '\n';
        return kExitBadInput;
      }
      if (a->output.empty()) std::cout << text;
      else write_atomically(a->output, text);
      return kExitOk;
    };
  });
}

}  // namespace alloclab::cli
