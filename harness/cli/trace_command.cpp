// alloclab trace ...: making, reading and converting allocation traces.
//   trace gen MODEL [--seed N] [--requests N] [--connections N] [--threads N] -o FILE [--text]
//   trace info FILE [--json]
//   trace check FILE
//   trace text FILE [-o OUT]      binary -> text
//   trace binary FILE -o OUT      text -> binary
// (capture and scopes live in capture_command.cpp.)
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "harness/cli/cli.hpp"
#include "workloads/models/model.hpp"
#include "workloads/trace_file.hpp"
#include "workloads/trace_info.hpp"
#include "workloads/trace_text.hpp"

namespace alloclab::cli {
namespace {

using namespace alloclab::trace;

struct GenOptions {
  std::string model;
  ModelParams params;
  std::string out;
  bool text = false;
};

int run_gen(const GenOptions& o) {
  WorkloadName name;
  try {
    name = parse_workload_name(o.model);
  } catch (const std::invalid_argument& e) {
    throw SpecError(e.what());
  }
  const Model* m = find_model(name.model);
  if (!m) throw SpecError("unknown model '" + name.model + "'; models: " + model_names());
  auto start = std::chrono::steady_clock::now();
  Trace t;
  try {
    ModelParams params = o.params;
    params.options = name.options;
    t = generate(*m, params);
  } catch (const std::invalid_argument& e) {
    throw SpecError(e.what());
  }
  auto generated = std::chrono::steady_clock::now();
  write_trace(t, o.out, o.text ? Form::text : Form::binary);
  double gen_s = std::chrono::duration<double>(generated - start).count();
  std::fprintf(stderr, "%s: %llu ops on %zu threads in %.2f s (%.1f M ops/s) -> %s\n", o.model.c_str(),
               static_cast<unsigned long long>(t.op_count()), t.threads.size(), gen_s,
               gen_s > 0 ? static_cast<double>(t.op_count()) / gen_s / 1e6 : 0.0, o.out.c_str());
  return kExitOk;
}

int run_info(const std::string& file, bool as_json) {
  TraceInfo info = analyze(read_trace(file));
  if (as_json) {
    std::cout << to_json(info).dump(2) << '\n';
  } else {
    std::cout << file << '\n' << to_report(info);
  }
  return kExitOk;
}

}  // namespace

void add_trace_command(CLI::App& app, Context& ctx) {
  auto* trace = app.add_subcommand("trace", "Generate, inspect, convert and capture allocation traces");
  trace->require_subcommand(1, 1);
  trace->footer("A trace is a binary file (workloads/FORMAT.md) or its text form; every reader accepts both.\n"
                "Exit status: 0 success, 2 bad input (a malformed trace names the byte offset or line).");

  auto gen = std::make_shared<GenOptions>();
  auto* g = trace->add_subcommand("gen", "Generate a trace from a workload model (deterministic: same arguments, same bytes)");
  g->add_option("model", gen->model, "Model, with options: MODEL[:KEY=VALUE,...]; models: " + model_names() +
                    "; every model takes scale=N (N times its requests and connections) and connections=N")->required();
  g->add_option("--seed", gen->params.seed, "Random seed")->check(uint64_digits())->default_val(1);
  g->add_option("--requests", gen->params.requests, "Requests in all (default: the model's, see workloads/MODELS.md)");
  g->add_option("--connections", gen->params.connections, "Concurrent connections over all threads (default: the model's)");
  g->add_option("--threads", gen->params.threads, "Server threads, one op stream each")->default_val(1);
  g->add_option("-o,--output", gen->out, "Trace file to write")->required()->type_name("FILE");
  g->add_flag("--text", gen->text, "Write the text form instead of the binary one");
  g->callback([&ctx, gen] { ctx.action = [gen] { return run_gen(*gen); }; });

  auto file = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto* i = trace->add_subcommand("info", "Ops, threads, sizes, peak live bytes, lifetimes, scopes, per-request bytes");
  i->add_option("file", *file, "Trace file")->required()->type_name("FILE");
  i->add_flag("--json", *as_json, "Machine-readable output");
  i->callback([&ctx, file, as_json] { ctx.action = [file, as_json] { return run_info(*file, *as_json); }; });

  auto* c = trace->add_subcommand("check", "Check a trace; print nothing and exit 0 when it is valid");
  c->add_option("file", *file, "Trace file")->required()->type_name("FILE");
  c->callback([&ctx, file] {
    ctx.action = [file] {
      read_trace(*file);
      return kExitOk;
    };
  });

  auto out = std::make_shared<std::string>();
  auto* tx = trace->add_subcommand("text", "Write a trace in the text form (to stdout without -o)");
  tx->add_option("file", *file, "Trace file")->required()->type_name("FILE");
  tx->add_option("-o,--output", *out, "Text file to write")->type_name("FILE");
  tx->callback([&ctx, file, out] {
    ctx.action = [file, out] {
      Trace t = read_trace(*file);
      if (out->empty()) {
        std::cout << to_text(t);
      } else {
        write_trace(t, *out, Form::text);
      }
      return kExitOk;
    };
  });

  auto* bin = trace->add_subcommand("binary", "Write a trace (text or binary) in the binary form");
  bin->add_option("file", *file, "Trace file")->required()->type_name("FILE");
  bin->add_option("-o,--output", *out, "Binary file to write")->required()->type_name("FILE");
  bin->callback([&ctx, file, out] {
    ctx.action = [file, out] {
      write_trace(read_trace(*file), *out, Form::binary);
      return kExitOk;
    };
  });

  add_trace_capture_command(*trace, ctx);
  add_trace_scopes_command(*trace, ctx);
}

}  // namespace alloclab::cli
