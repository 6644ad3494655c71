// alloclab merge -o OUT FILE...: joins the shards of one run (harness/run/merge.hpp
// says how machines are kept apart).
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "harness/cli/cli.hpp"
#include "harness/run/merge.hpp"
#include "harness/serve/serve_results.hpp"
#include "workloads/atomic_file.hpp"
#include "workloads/regular_file.hpp"

namespace alloclab::cli {

void add_merge_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("merge", "Join results files of one run (its --shard slices) into one");
  auto files = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto allow_machines = std::make_shared<bool>(false);
  cmd->add_option("files", *files,
                  "Results files written by alloclab run (or alloclab serve) with the same configuration")
      ->required()
      ->type_name("FILE...");
  cmd->add_option("-o,--output", *output, "Merged results file")->required()->type_name("FILE");
  cmd->add_flag("--force", *force, "Overwrite an existing output file");
  cmd->add_flag("--allow-machines", *allow_machines,
                "Join files measured on different machines; each cell then names its machine");
  cmd->footer(
      "Every file must come from the same configuration; a cell may appear in only one of them. The merged\n"
      "file is a whole run (shard 1/1): alloclab run --resume -o OUT runs any cells the slices lacked.\n"
      "Files measured on different machines (context cpu_model, cores, memory_bytes, kernel, machine) are\n"
      "refused unless --allow-machines is given; then the other machines' contexts are kept under\n"
      "context.other_machines and every cell has \"machine\": 0 for context, k for other_machines[k-1].\n"
      "Exit status: 0 merged, 2 bad input (unreadable file, another configuration, a cell twice, another\n"
      "machine without --allow-machines).");
  cmd->callback([&ctx, files, output, force, allow_machines] {
    ctx.action = [files, output, force, allow_machines] {
      if (!*force && std::find(files->begin(), files->end(), *output) == files->end() &&
          ::access(output->c_str(), F_OK) == 0) {
        std::cerr << "alloclab: " << *output << " exists; --force overwrites it\n";
        return kExitBadInput;
      }
      try {
        // Server results (alloclab serve) merge with their own kind.
        std::string first;
        try {
          first = read_regular_file(files->front(), std::uint64_t{2} << 30, "2 GiB");
        } catch (const RegularFileError& e) {
          throw run::ResultsError(files->front() + ": " + e.what());
        }
        if (serve::mentions_serve_format(first)) {
          auto doc = serve::merge_serve_results(*files);
          write_atomically(*output, doc.dump(1) + "\n");
          std::cerr << "alloclab: " << doc["cells"].size() << " server cells from " << files->size() << " files -> "
                    << *output << '\n';
          return kExitOk;
        }
        run::Results merged = run::merge_results(*files, *allow_machines);
        merged.write(*output);
        std::cerr << "alloclab: " << merged.cells.size() << " of " << merged.total_cells << " cells from "
                  << files->size() << " files -> " << *output << '\n';
        return kExitOk;
      } catch (const run::ResultsError& e) {
        std::cerr << "alloclab: " << e.what() << '\n';
        return kExitBadInput;
      }
    };
  });
}

}  // namespace alloclab::cli
