// alloclab run: the measuring command. Expands a suite (or the lists given)
// into cells, runs each in a fresh worker and writes results JSON after
// every cell (results/SCHEMA.md).
#include <unistd.h>

extern char** environ;

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "harness/backend_check.hpp"
#include "harness/cli/cli.hpp"
#include "harness/run/results.hpp"
#include "harness/run/runner.hpp"
#include "harness/run/shard_auto.hpp"
#include "workloads/models/model.hpp"
#include "workloads/trace_file.hpp"

namespace alloclab::cli {

namespace {

struct RunArgs {
  std::string suite = "default";
  bool quick = false;
  std::string backends, workloads, threads;
  std::vector<std::string> traces;
  std::uint32_t reps = 0;
  std::uint64_t seed = 1;
  std::uint32_t requests = 0;
  std::string touch = "pages";
  std::string count = "time";
  std::string scaling = "weak";
  bool pin = false;
  std::uint32_t sample = 16;
  double timeout_s = 120;
  std::string memory_limit;
  std::string output = "results.json";
  std::string shard = "1/1";
  bool resume = false, force = false, quiet = false, dry_run = false;
  bool backends_given = false, workloads_given = false;  // given, even as '' (which is an error)
};

std::uint64_t parse_size(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw SpecError("--memory-limit: '" + text + "' is not a size (e.g. 8G, 512M, 0 for none)");
  }
  std::string unit = text.substr(used);
  double mult = unit.empty() || unit == "B" ? 1 : unit == "K" ? 1 << 10 : unit == "M" ? 1 << 20
              : unit == "G" ? double(1 << 30) : -1;
  if (mult < 0 || !(v >= 0)) throw SpecError("--memory-limit: '" + text + "' is not a size (e.g. 8G, 512M, 0 for none)");
  // Above 2^60 bytes (1 EiB) the limit would wrap or mean nothing.
  if (!(v * mult <= 0x1p60)) throw SpecError("--memory-limit: '" + text + "' is more than 1 EiB (0 means no limit)");
  return static_cast<std::uint64_t>(v * mult);
}

// Without --memory-limit: three quarters of the machine's memory, so a
// runaway allocator fails its own mallocs instead of taking the machine
// down. Sanitizer builds reserve terabytes of address space: no limit.
std::uint64_t default_memory_limit() {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#else
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) / 4 * 3;
#endif
}

run::RunOptions make_options(Context& ctx, const RunArgs& a) {
  run::RunOptions o;
  run::RunConfig& c = o.config;
  std::string suite_name = a.quick ? "quick" : a.suite;
  const run::Suite* suite = run::find_suite(suite_name);
  if (!suite) throw SpecError("unknown suite '" + suite_name + "'; suites: " + run::suite_names());
  c.suite = suite->name;
  c.count = a.count;
  const bool counting = c.counts_instructions();

  if (a.backends_given && split_list(a.backends).empty())
    throw SpecError("--backends is empty; leave it out for the default backends");
  if (a.workloads_given && a.workloads.find_first_not_of(", ") == std::string::npos)
    throw SpecError("--workloads is empty; leave it out for the default workloads; models: " + trace::model_names());
  // A cell's timeout: a real number of seconds, up to a week.
  if (!(a.timeout_s > 0 && a.timeout_s <= 604800))
    throw SpecError("--timeout: must be a number of seconds above 0 and at most 604800 (a week)");
  // Backends a claim experiment runs beyond the default ones
  // (pool:order=fifo@glibc): in the run, but not on the grid's workloads.
  if (a.backends.empty()) {
    c.backends = run::default_backends();
    if (!a.workloads_given && a.traces.empty()) {
      for (const auto& e : suite->experiments)
        for (const auto& b : e.backends) {
          std::string canonical = b == "null" ? b : parse_backend_spec(b).canonical();
          if (std::find(c.backends.begin(), c.backends.end(), canonical) == c.backends.end()) {
            c.backends.push_back(canonical);
            c.experiment_backends.push_back(canonical);
          }
        }
    }
  } else {
    for (const auto& item : split_list(a.backends)) {
      std::string canonical = item == "null" ? "null" : parse_backend_spec(item, ctx.externals()).canonical();
      if (std::find(c.backends.begin(), c.backends.end(), canonical) == c.backends.end())
        c.backends.push_back(canonical);
    }
    if (c.backends.empty()) throw SpecError("--backends is empty; valid: null, " + backend_choices(ctx.externals()));
  }
  // An allocator variable in this shell would configure no worker (they
  // inherit none) yet look as if it did: refuse, naming the spec form.
  for (char** e = environ; *e != nullptr; ++e) {
    if (!is_allocator_variable(*e)) continue;
    std::string_view entry = *e;
    std::string name(entry.substr(0, entry.find('=')));
    std::string lib = name == "MALLOC_CONF" ? "jemalloc" : name.starts_with("MIMALLOC_") ? "mimalloc"
                    : name.starts_with("TCMALLOC_") ? "tcmalloc" : "glibc";
    throw SpecError(name + " is set in this environment; workers do not inherit allocator variables, so it would "
                    "configure nothing: unset it and give the setting per backend, e.g. " + lib +
                    "[key=value] (alloclab list shows the keys)");
  }
  // A preload library that hangs or crashes passes this check: the cells
  // record it. Only a library that is not a malloc at all, or settings that
  // did not take effect, are bad input.
  auto probe_timeout = std::chrono::milliseconds(static_cast<long long>(std::min(a.timeout_s, 30.0) * 1000));
  for (const auto& b : c.backends)
    if (b != "null") check_backend(parse_backend_spec(b), probe_timeout);

  std::vector<std::string> model_list;
  if (!a.workloads.empty()) {
    // A comma also separates a model's options (scope-sweep:n=4,size=16):
    // an item with '=' and no ':' continues the one before it.
    for (auto& item : split_list(a.workloads)) {
      if (!model_list.empty() && item.find('=') != std::string::npos && item.find(':') == std::string::npos)
        model_list.back() += "," + item;
      else
        model_list.push_back(item);
    }
    if (model_list.empty()) throw SpecError("--workloads is empty; models: " + trace::model_names());
  }
  else if (a.traces.empty())
    for (const auto& m : trace::models())
      if (!m.experiment) model_list.emplace_back(m.name);
  auto add_model = [&](const std::string& spec) -> run::WorkloadSpec& {
    trace::WorkloadName n;
    try {
      n = trace::parse_workload_name(spec);
    } catch (const std::invalid_argument& e) {
      throw SpecError(std::string("--workloads: ") + e.what());
    }
    const trace::Model* m = trace::find_model(n.model);
    if (!m) throw SpecError("unknown workload '" + n.model + "'; models: " + trace::model_names());
    run::WorkloadSpec w;
    w.name = spec;
    w.model = n.model;
    // age=MIB and idle=SECONDS are the replay's, not the model's.
    auto replay_option = [&](const char* key, double lo, double hi, const char* range) -> double {
      auto it = n.options.find(key);
      if (it == n.options.end()) return 0;
      char* end = nullptr;
      double v = std::strtod(it->second.c_str(), &end);
      if (it->second.empty() || *end || !(v >= lo && v <= hi))
        throw SpecError("--workloads " + spec + ": " + key + " must be " + range + ", not '" + it->second + "'");
      n.options.erase(it);
      return v;
    };
    w.age_bytes = static_cast<std::uint64_t>(replay_option("age", 1, 4096, "MiB from 1 to 4096") * (1 << 20));
    w.idle_seconds = replay_option("idle", 0.1, 60, "seconds from 0.1 to 60");
    w.params = n.options;
    w.requests = a.requests ? a.requests : m->default_requests / suite->request_divisor;
    // A bad option is bad input now, not a failed run: check the scale and
    // generate a one-request trace with the model's own options.
    try {
      trace::ModelParams p;
      p.options = n.options;
      (void)p.option("scale", 1, 1, 4096);
      p.options.erase("scale");
      p.requests = 1;
      p.threads = std::max(1u, m->min_threads);
      (void)trace::generate(*m, p);
    } catch (const std::invalid_argument& e) {
      throw SpecError("--workloads " + spec + ": " + e.what());
    }
    for (const auto& other : c.workloads)
      if (other.name == spec) throw SpecError("--workloads names " + spec + " twice");
    c.workloads.push_back(w);
    return c.workloads.back();
  };
  for (const auto& name : model_list) add_model(name);
  // The suite's claim experiments, when the run names no workloads of its own.
  if (a.workloads.empty() && a.traces.empty()) {
    for (const auto& e : suite->experiments) {
      std::vector<std::string> bs;
      for (const auto& b : e.backends)
        if (std::find(c.backends.begin(), c.backends.end(), b) != c.backends.end()) bs.push_back(b);
      if (bs.empty()) continue;
      run::WorkloadSpec& w = add_model(e.workload);
      w.backends = bs;
      w.threads = e.threads;
      w.reps = e.reps;
    }
  }
  for (const auto& path : a.traces) {
    trace::Trace t = trace::read_trace(path);  // a malformed file stops the run here (exit 2)
    run::WorkloadSpec w;
    w.path = std::filesystem::absolute(path).string();
    w.name = "trace:" + std::filesystem::path(path).stem().string();
    w.file_threads = static_cast<std::uint32_t>(t.threads.size());
    for (const auto& other : c.workloads)
      if (other.name == w.name) throw SpecError("two workloads are named " + w.name + "; rename one trace file");
    c.workloads.push_back(w);
  }
  if (!a.threads.empty()) {
    for (const auto& item : split_list(a.threads)) {
      char* end = nullptr;
      unsigned long t = std::strtoul(item.c_str(), &end, 10);
      if (*end != '\0' || t == 0 || t > trace::kMaxThreads)
        throw SpecError("--threads: '" + item + "' is not a thread count (1.." + std::to_string(trace::kMaxThreads) + ")");
      if (std::find(c.threads.begin(), c.threads.end(), t) == c.threads.end()) c.threads.push_back(static_cast<std::uint32_t>(t));
    }
    if (c.threads.empty()) throw SpecError("--threads is empty; give thread counts such as 1,2");
    std::sort(c.threads.begin(), c.threads.end());
  } else {
    c.threads = counting ? std::vector<std::uint32_t>{1} : suite->threads;
  }
  // A count repeats exactly: one repetition says all.
  c.reps = a.reps ? a.reps : counting ? 1 : suite->reps;
  c.seed = a.seed;
  c.touch = a.touch;
  c.scaling = a.scaling;
  c.pin = a.pin;
  c.sample_one_in = a.sample;
  c.timeout_seconds = a.timeout_s;
  if (!a.memory_limit.empty()) c.memory_limit_bytes = parse_size(a.memory_limit);
  else c.memory_limit_bytes = counting ? 0 : default_memory_limit();
  if (auto why = c.problem(); !why.empty()) throw SpecError(why);

  run::ShardSlice shard;
  try {
    shard = run::parse_shard(a.shard);
  } catch (const run::ShardError& e) {
    throw SpecError(e.what());
  }
  o.shard_index = shard.index;
  o.shard_count = shard.count;
  o.output = a.output;
  o.resume = a.resume;
  o.force = a.force;
  o.quiet = a.quiet;
  return o;
}

int run_command(Context& ctx, const RunArgs& a) {
  run::RunOptions o = make_options(ctx, a);
  if (a.dry_run) {
    auto all = run::plan_cells(o.config);
    auto mine = run::shard_cells(all, o.shard_index, o.shard_count);
    std::cout << o.config.to_json().dump(2) << '\n'
              << mine.size() << " cells (of " << all.size() << " in the whole run)\n";
    // --shard auto: which engine's variable gave the slice (the same environment, so the same answer).
    if (auto source = run::parse_shard(a.shard).source; !source.empty())
      std::cout << "shard " << o.shard_index << "/" << o.shard_count << " from " << source << '\n';
    return kExitOk;
  }
  try {
    return run::execute_run(o);
  } catch (const run::RunError& e) {
    std::cerr << "alloclab: " << e.what() << '\n';
    return kExitBadInput;
  }
}

}  // namespace

void add_run_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("run", "Replay workloads against backends, one worker process per cell; write results JSON");
  auto a = std::make_shared<RunArgs>();
  std::string suites_help = "Suite: ";
  for (const auto& s : run::suites()) suites_help += std::string("\n  ") + s.name + ": " + s.description;
  cmd->add_option("--suite", a->suite, suites_help)->type_name("NAME");
  cmd->add_flag("--quick", a->quick, "The quick suite (under a minute): same as --suite quick");
  cmd->add_option("--backends", a->backends,
                  "Comma-separated backends (default: null, every general allocator, every strategy over glibc); "
                  "null measures the harness's own cost. A general allocator takes its library's settings as "
                  "LIB[key=value,...], also as a base: 'jemalloc[dirty_decay_ms=0]', 'bump@glibc[arena_max=1]' "
                  "(alloclab list shows the keys)")
      ->type_name("LIST");
  cmd->add_option("--workloads", a->workloads, "Comma-separated models, each MODEL[:KEY=VALUE,...] (every model takes scale=N, N times its requests and "
                  "connections, and connections=N; scope-sweep takes n and size; the replay's own: age=MIB runs an ageing churn of "
                  "that many live MiB before the replay, idle=SECONDS samples RSS while the worker sits idle after it). Default: the five HTTP models and the suite's claim "
                  "experiments, unless --trace is given")
      ->type_name("LIST");
  cmd->add_option("--trace", a->traces, "Trace files to replay as workloads (each keeps its own thread count)")
      ->type_name("FILE...");
  cmd->add_option("--threads", a->threads, "Comma-separated thread counts for the models (default: the suite's)")
      ->type_name("LIST");
  cmd->add_option("--reps", a->reps, "Repetitions per cell (default: the suite's)")->check(CLI::Range(1u, 1000u));
  cmd->add_option("--seed", a->seed, "Seed for the traces, the cell order and the sampled ops")
      ->check(uint64_digits())
      ->capture_default_str();
  cmd->add_option("--requests", a->requests,
                  "Requests per model trace at one thread (default: the model's, scaled by the suite); weak scaling "
                  "multiplies them and the connections by the thread count")
      ->check(CLI::Range(1u, 100000000u));
  cmd->add_option("--scaling", a->scaling,
                  "How a thread sweep splits the work. weak: the trace for T threads has T times the requests and "
                  "connections of the 1-thread trace, so every thread has the same work and throughput should grow "
                  "with T. strong: the same requests split over T threads (load imbalance and the slowest thread "
                  "then shape the curve)")
      ->check(CLI::IsMember({"weak", "strong"}))
      ->capture_default_str();
  cmd->add_flag("--pin", a->pin,
                "Bind each replay thread to a CPU of its own (the worker's usable CPUs in order; more threads than "
                "CPUs share them round-robin). Each cell's replay.per_thread records the CPU every thread ran on");
  cmd->add_option("--touch", a->touch,
                  "How replay writes allocated blocks: pages (64 bytes and one byte per further page, so every page a "
                  "server fills is resident and RSS is the footprint), all (every byte), first (64 bytes), none")
      ->check(CLI::IsMember({"pages", "all", "first", "none"}))
      ->capture_default_str();
  cmd->add_option("--count", a->count,
                  "What a cell measures. time: the timed replay (ns per op, latency percentiles, memory). "
                  "instructions: instructions per op counted by Callgrind (needs valgrind), the same in every run, "
                  "so comparisons need no repetitions; one thread only (threads default to 1), reps default to 1, "
                  "no memory limit, the --timeout per cell multiplied by 100 for valgrind's slowness; "
                  "no times or memory figures")
      ->check(CLI::IsMember({"time", "instructions"}))
      ->capture_default_str();
  cmd->add_option("--sample", a->sample, "Time 1 op in N alone for the latency percentiles")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  cmd->add_option("--timeout", a->timeout_s,
                  "Seconds before a cell's worker counts as hung (x100 under --count instructions), up to a week")
      ->capture_default_str();
  cmd->add_option("--memory-limit", a->memory_limit,
                  "Address-space limit per worker, e.g. 8G; 0 for none (default: 3/4 of RAM)")
      ->type_name("SIZE");
  cmd->add_option("-o,--output", a->output, "Results file, rewritten atomically after every cell")
      ->type_name("FILE")
      ->capture_default_str();
  cmd->add_flag("--resume", a->resume, "Continue the results file, skipping the cells it holds");
  cmd->add_flag("--force", a->force, "Overwrite an existing results file");
  cmd->add_option("--shard", a->shard,
                  "Run slice K of N of the cells (alloclab merge joins the slices). auto takes the slice from the "
                  "engine running this process: a Slurm job array (SLURM_ARRAY_TASK_ID, mapped onto 1..N through "
                  "SLURM_ARRAY_TASK_MIN and _STEP; N is SLURM_ARRAY_TASK_COUNT), a Kubernetes Indexed Job "
                  "(JOB_COMPLETION_INDEX, 0-based) or GNU parallel (PARALLEL_SEQ, 1-based); auto/N gives N, which "
                  "Kubernetes and GNU parallel need. Exactly one engine's variable must be set")
      ->type_name("K/N|auto[/N]");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress output");
  cmd->add_flag("--dry-run", a->dry_run, "Print the configuration and the cell count; run nothing");
  cmd->footer(
      "Each cell (backend x workload x threads x repetition) runs in a fresh alloclab-worker with the backend's\n"
      "allocator preloaded; cells are shuffled by --seed. A worker that crashes, hangs or runs out of memory is\n"
      "recorded as a failed cell and the run goes on. Progress goes to stderr.\n"
      "--count instructions runs each worker under valgrind --tool=callgrind, counting only the replay's ops\n"
      "(not trace loading, not touching the blocks), with jemalloc's decay and mimalloc's delayed decommit\n"
      "turned off (MALLOC_CONF gets dirty_decay_ms:-1,muzzy_decay_ms:-1 appended; MIMALLOC_ALLOW_DECOMMIT=0),\n"
      "so each cell's count repeats exactly on this machine. A cell takes seconds instead of milliseconds;\n"
      "a backend's own settings (jemalloc[dirty_decay_ms=0]) take precedence over these.\n"
      "Settings (LIB[key=value,...]) reach only that backend's workers, in the variable its library reads\n"
      "(MALLOC_CONF, MIMALLOC_<KEY>, GLIBC_TUNABLES, TCMALLOC_<KEY>); each worker reads them back from the\n"
      "library and refuses to measure when one did not take effect (checked once before the run: exit 2).\n"
      "No worker inherits those variables from this shell: run refuses to start while one is set.\n"
      "Exit status: 0 every cell ok (or unsupported by its backend), 2 bad input, 3 some cells failed,\n"
      "130 interrupted (finished cells kept; --resume continues).");
  cmd->callback([&ctx, a, cmd] {
    a->backends_given = cmd->count("--backends") > 0;
    a->workloads_given = cmd->count("--workloads") > 0;
    ctx.action = [&ctx, a] { return run_command(ctx, *a); };
  });
}

}  // namespace alloclab::cli
