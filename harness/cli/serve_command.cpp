// alloclab serve: real servers under each general allocator.
#include <iostream>
#include <sstream>

#include "harness/cli/cli.hpp"
#include "harness/run/context.hpp"
#include "harness/run/output_lock.hpp"
#include "harness/run/results.hpp"
#include "harness/serve/serve_results.hpp"
#include "harness/serve/serve_suite.hpp"
#include "workloads/atomic_file.hpp"

namespace alloclab::cli {

namespace {

std::vector<int> parse_cpus(const std::string& text, const std::string& flag) {
  std::vector<int> out;
  for (const auto& item : split_list(text)) {
    auto dash = item.find('-');
    try {
      std::size_t used = 0;
      int first = std::stoi(item.substr(0, dash), &used);
      if (used != item.substr(0, dash).size()) throw std::invalid_argument(item);
      int last = first;
      if (dash != std::string::npos) {
        last = std::stoi(item.substr(dash + 1), &used);
        if (used != item.substr(dash + 1).size()) throw std::invalid_argument(item);
      }
      if (first < 0 || last < first || last > 4095) throw std::invalid_argument(item);
      for (int c = first; c <= last; ++c) out.push_back(c);
    } catch (const std::exception&) {
      throw SpecError(flag + ": '" + item + "' is not a CPU number or range (e.g. 0 or 2-3)");
    }
  }
  auto usable = run::usable_cpu_list();
  for (int c : out) {
    if (std::find(usable.begin(), usable.end(), c) == usable.end()) {
      throw SpecError(flag + ": CPU " + std::to_string(c) + " is not one this process may use");
    }
  }
  return out;
}

}  // namespace

void add_serve_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "serve", "Measure real servers (nginx, h2o, HAProxy, Apache httpd, Node.js, hyper) under each general allocator");
  struct Args {
    std::string servers = "nginx,h2o,haproxy,apache,node,rust";
    std::string allocators = "glibc,jemalloc,mimalloc,tcmalloc";
    std::string output = "serve.json";
    std::string server_cpus, load_cpus;
    serve::SuiteOptions o;
    bool quiet = false, force = false, resume = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--servers", a->servers,
                  "Servers, comma-separated: " + serve::server_names() +
                      "; node:retain=MIB is Node.js holding MIB of objects for its life (V8's collector then traces that\n"
                      "heap), run under the first backend only")
      ->capture_default_str();
  cmd->add_option("-b,--backends", a->allocators,
                  "General allocators preloaded into each server; the first is the baseline of comparisons")
      ->capture_default_str();
  cmd->add_option("-r,--reps", a->o.reps, "Repetitions of each server x allocator cell, interleaved")
      ->check(CLI::Range(1, 100))->capture_default_str();
  cmd->add_option("--warmup", a->o.warmup_s, "Whole seconds of unmeasured load after start (0: none)")
      ->check(CLI::Range(0, 600))->capture_default_str();
  cmd->add_option("--peak", a->o.peak_s, "Whole seconds of closed-loop load (wrk) for peak throughput")
      ->check(CLI::Range(1, 600))->capture_default_str();
  cmd->add_option("--fixed", a->o.fixed_s, "Seconds of open-loop load at a fixed rate for latency")
      ->check(CLI::Range(0.1, 600.0))->capture_default_str();
  cmd->add_option("--rate", a->o.rate,
                  "Fixed offered rate, requests/s; 0: --rate-fraction of each server's first measured peak")
      ->check(CLI::Range(0.0, 1e7))->capture_default_str();
  cmd->add_option("--rate-fraction", a->o.rate_fraction, "Share of peak offered in the fixed-rate phase")
      ->check(CLI::Range(0.01, 1.0))->capture_default_str();
  cmd->add_option("-c,--connections", a->o.connections, "Keep-alive connections of each load generator")
      ->check(CLI::Range(1, 10000))->capture_default_str();
  cmd->add_option("--body-bytes", a->o.body_bytes,
                  "Size of the page served (default: the median HTML page, Web Almanac 2024)")
      ->check(CLI::Range(1, 64 << 20))->capture_default_str();
  cmd->add_option("--server-cpus", a->server_cpus, "CPUs of the servers (default: the first half of this process's)")
      ->type_name("LIST");
  cmd->add_option("--load-cpus", a->load_cpus, "CPUs of wrk and the fixed-rate generator (default: the rest)")
      ->type_name("LIST");
  cmd->add_flag("--predict", a->o.predict,
                "Also capture each server's allocations under the same load (trace capture), replay them under every\n"
                "allocator (run --trace) and set the replay's allocator time per request beside the server's CPU time\n"
                "per request, with their rank agreement (Spearman)");
  cmd->add_option("--predict-reps", a->o.predict_reps, "Replay repetitions per allocator for --predict")
      ->check(CLI::Range(1, 100))->capture_default_str();
  cmd->add_option("-o,--output", a->output, "Results file (written when the suite ends)")->capture_default_str();
  cmd->add_flag("-f,--force", a->force, "Overwrite an existing results file");
  cmd->add_flag("--resume", a->resume,
                "Continue the results file of a stopped suite (same flags): keep its cells, run the missing ones");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bar");
  cmd->footer(
      "Each server runs from a temporary prefix on 127.0.0.1 with a free port, its allocator preloaded and\n"
      "checked in the server process itself; wrk measures peak throughput (closed loop: its latency hides\n"
      "queueing), then alloclab's open-loop generator offers a fixed rate and measures latency from each\n"
      "request's due time. CPU time, faults and memory come from /proc. Servers and load run on separate CPUs.\n"
      "Exit status: 0 all cells measured, 2 bad input, 3 some cells failed (recorded with the server's log),\n"
      "4 a server or wrk is not installed (the message names the Debian package), 130 stopped by SIGINT,\n"
      "SIGTERM or SIGHUP (finished cells kept; no server, load generator or temporary folder is left).");
  cmd->callback([&ctx, a] {
    ctx.action = [a] {
      auto& o = a->o;
      o.quiet = a->quiet;
      o.servers.clear();
      for (const auto& s : split_list(a->servers)) {
        serve::ServerSpec spec;
        try {
          spec = serve::parse_server_spec(s);
        } catch (const std::invalid_argument& e) {
          throw SpecError(e.what());
        }
        for (const auto& k : o.servers)
          if (k.label == spec.label) throw SpecError("server '" + s + "' named twice");
        o.servers.push_back(spec);
      }
      if (o.servers.empty()) throw SpecError("--servers is empty; valid: " + serve::server_names());
      o.allocators.clear();
      for (const auto& s : split_list(a->allocators)) {
        auto lib = library_from_name(s);
        if (!lib) throw SpecError("unknown allocator '" + s + "' (serve preloads glibc, jemalloc, mimalloc, tcmalloc)");
        if (std::find(o.allocators.begin(), o.allocators.end(), *lib) != o.allocators.end()) throw SpecError("allocator '" + s + "' named twice");
        o.allocators.push_back(*lib);
      }
      if (o.allocators.empty()) throw SpecError("--backends is empty");
      auto usable = run::usable_cpu_list();
      o.server_cpus = a->server_cpus.empty() ? std::vector<int>() : parse_cpus(a->server_cpus, "--server-cpus");
      o.load_cpus = a->load_cpus.empty() ? std::vector<int>() : parse_cpus(a->load_cpus, "--load-cpus");
      if (o.server_cpus.empty() && o.load_cpus.empty()) {
        std::size_t half = std::max<std::size_t>(1, usable.size() / 2);
        o.server_cpus.assign(usable.begin(), usable.begin() + static_cast<long>(half));
        o.load_cpus.assign(usable.begin() + static_cast<long>(std::min(half, usable.size() - 1)), usable.end());
        if (usable.size() == 1) o.load_cpus = usable;
      } else if (o.server_cpus.empty()) {
        for (int c : usable) if (std::find(o.load_cpus.begin(), o.load_cpus.end(), c) == o.load_cpus.end()) o.server_cpus.push_back(c);
        if (o.server_cpus.empty()) o.server_cpus = usable;
      } else if (o.load_cpus.empty()) {
        for (int c : usable) if (std::find(o.server_cpus.begin(), o.server_cpus.end(), c) == o.server_cpus.end()) o.load_cpus.push_back(c);
        if (o.load_cpus.empty()) o.load_cpus = usable;
      }
      if (a->force && a->resume) throw SpecError("--force and --resume exclude each other");
      if (!a->force && !a->resume && ::access(a->output.c_str(), F_OK) == 0) {
        std::cerr << "alloclab: " << a->output << " exists (--force overwrites it, --resume continues it)\n";
        return kExitBadInput;
      }
      run::OutputLock lock(a->output);
      nlohmann::json previous;
      if (a->resume) {
        if (::access(a->output.c_str(), F_OK) != 0) throw SpecError("--resume: " + a->output + " does not exist");
        previous = serve::read_serve_results(a->output);
      }
      serve::install_stop_handlers();
      serve::remove_stale_prefixes();
      // The generator and wrk run on the load CPUs; so does this process.
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int c : o.load_cpus) CPU_SET(c, &set);
      ::sched_setaffinity(0, sizeof(set), &set);
      int failed = 0;
      nlohmann::json doc;
      auto save = [&](const nlohmann::json& d) { write_atomically(a->output, d.dump(1) + "\n"); };
      try {
        doc = serve::run_suite(o, failed, save, a->resume ? &previous : nullptr);
      } catch (const serve::MissingProgram& e) {
        std::cerr << "alloclab: " << e.what() << '\n';
        return kExitMissingDependency;
      } catch (const run::ResultsError& e) {
        std::cerr << "alloclab: " << a->output << ": " << e.what() << '\n';
        return kExitBadInput;
      }
      save(doc);
      if (serve::g_stop_signal != 0) {
        std::cerr << "alloclab: serve stopped by signal " << serve::g_stop_signal << "; " << doc["cells"].size()
                  << " finished cell(s) kept in " << a->output << '\n';
        return 130;
      }
      std::cout << serve::summary_table(doc);
      std::cout << "Results: " << a->output << "\n";
      if (failed > 0) {
        std::cerr << "alloclab: " << failed << " server cell(s) failed; the results file records why\n";
        for (const auto& c : doc["cells"]) {
          if (c.value("status", "") != "ok") std::cerr << "  " << c.value("id", "") << ": " << c.value("failure", "") << '\n';
        }
        return kExitCellsFailed;
      }
      return kExitOk;
    };
  });
}

}  // namespace alloclab::cli
