// alloclab smoke [--backends LIST]: runs every backend (by default every
// general allocator and every strategy over every general allocator) in a
// verified worker on a short fixed workload.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "allocators/registry.hpp"
#include "harness/backend_check.hpp"
#include "harness/cli/cli.hpp"
#include "harness/worker_protocol.hpp"

namespace alloclab::cli {

namespace {

using nlohmann::json;

struct SmokeOptions {
  std::string backends;
  std::uint64_t rounds = 200000;
  double timeout_s = 60;
  bool as_json = false;
};

std::vector<BackendSpec> default_backends() {
  std::vector<BackendSpec> out;
  std::vector<std::string> generals, strategies;
  for_each_registration([&](const auto& reg) {
    (reg.is_general() ? generals : strategies).emplace_back(reg.name);
  });
  for (const auto& g : generals) out.push_back(parse_backend_spec(g));
  for (const auto& s : strategies) {
    for (const auto& g : generals) out.push_back(parse_backend_spec(s + "@" + g));
  }
  return out;
}

int run_smoke(Context& ctx, const SmokeOptions& opt) {
  std::vector<BackendSpec> specs = opt.backends.empty() ? default_backends() : ctx.parse_backends(opt.backends);
  auto timeout = std::chrono::milliseconds(static_cast<long>(opt.timeout_s * 1000));
  for (const auto& s : specs) check_backend(s, timeout);

  json rows = json::array();
  int failed = 0;
  if (!opt.as_json) {
    std::printf("%-28s %-9s %-8s %-8s %10s %12s %10s\n", "BACKEND", "MALLOC", "VERSION", "RESULT", "NS/OP", "OPS",
                "REFUSED");
  }
  for (const auto& spec : specs) {
    auto req = worker_request(spec, {"--task", "smoke", "--rounds", std::to_string(opt.rounds)});
    req.timeout = timeout;
    WorkerOutcome out = run_worker(req);
    json doc = json::parse(out.out, nullptr, false);
    json row = {{"backend", spec.display()}, {"spec", spec.canonical()}, {"ok", out.ok()}};
    if (doc.is_object()) row["worker"] = doc;
    if (!out.ok()) {
      ++failed;
      row["failure"] = doc.is_object() && doc.contains("reason") ? doc["reason"].get<std::string>() : out.describe();
    }
    if (!opt.as_json) {
      std::string family = "?", version = "?";
      if (doc.is_object() && doc.contains("identity")) {
        family = doc["identity"]["family"];
        version = doc["identity"]["version"];
      }
      if (out.ok()) {
        const auto& sm = doc["smoke"];
        std::printf("%-28s %-9s %-8s %-8s %10.1f %12llu %10llu\n", spec.display().c_str(), family.c_str(),
                    version.c_str(), "ok", sm["ns_per_op"].get<double>(),
                    static_cast<unsigned long long>(sm["operations"].get<std::uint64_t>()),
                    static_cast<unsigned long long>(sm["failed"].get<std::uint64_t>()));
      } else {
        std::printf("%-28s %-9s %-8s %-8s %s\n", spec.display().c_str(), family.c_str(), version.c_str(),
                    "FAILED", row["failure"].get<std::string>().c_str());
      }
      std::fflush(stdout);
    }
    rows.push_back(std::move(row));
  }
  if (opt.as_json) {
    std::cout << json{{"smoke", rows}}.dump(2) << '\n';
  } else {
    std::printf("\n%zu backends, %d failed. NS/OP is batch-timed over the whole smoke loop (allocate and free\n"
                "calls, pattern writes and checks included): a sanity figure, not a measurement. REFUSED counts\n"
                "nullptr returns the backend counted itself (a capacity or limit reached).\n",
                specs.size(), failed);
  }
  return failed ? kExitCellsFailed : kExitOk;
}

}  // namespace

void add_smoke_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("smoke", "Run every backend briefly in a verified worker process");
  auto opt = std::make_shared<SmokeOptions>();
  cmd->add_option("--backends", opt->backends,
                  "Comma-separated backends (default: every general allocator, and every strategy over each)")
      ->type_name("LIST");
  cmd->add_option("--rounds", opt->rounds, "Operations per backend")->check(CLI::Range(1ull, 1ull << 32));
  cmd->add_option("--timeout", opt->timeout_s, "Seconds before a worker counts as hung")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", opt->as_json, "Machine-readable output");
  cmd->callback([&ctx, opt] { ctx.action = [&ctx, opt] { return run_smoke(ctx, *opt); }; });
}

}  // namespace alloclab::cli
