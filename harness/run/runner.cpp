#include "harness/run/runner.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "allocators/spec.hpp"
#include "harness/backend_check.hpp"
#include "harness/run/callgrind.hpp"
#include "harness/run/context.hpp"
#include "harness/run/output_lock.hpp"
#include "harness/run/progress.hpp"
#include "harness/run/results.hpp"
#include "harness/worker_protocol.hpp"
#include "workloads/atomic_file.hpp"
#include "workloads/models/model.hpp"
#include "workloads/trace_binary.hpp"
#include "workloads/trace_file.hpp"
#include "workloads/trace_info.hpp"

namespace alloclab::run {

using nlohmann::json;

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) { g_interrupted.store(true); }

// SIGINT and SIGTERM set a flag for the length of the run: the worker in
// flight is killed, its cell dropped, and the results so far kept.
class InterruptGuard {
 public:
  InterruptGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

std::string temp_base() {
  const char* base = std::getenv("TMPDIR");
  return base && *base ? base : "/tmp";
}

// Removes the trace directories that runs killed with SIGKILL left behind
// (those of processes that no longer exist). Their half-written results
// files are removed by write_atomically (workloads/atomic_file.hpp).
void remove_leftovers() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(temp_base(), ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("alloclab-run-", 0) != 0) continue;
    long pid = std::strtol(name.c_str() + 13, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
}

// A temporary directory for generated traces, removed with everything in it.
// Its name holds the process id, so a later run can tell a leftover.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = temp_base() + "/alloclab-run-" + std::to_string(::getpid()) + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw RunError("cannot create a temporary directory under " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string trace_key(const std::string& workload, std::uint32_t threads) {
  return workload + "/t" + std::to_string(threads);
}

// What the trace holds, for the results file: exact live bytes and the
// request figures the reports use.
json trace_summary(const trace::Trace& t, const std::string& source) {
  trace::TraceInfo info = trace::analyze(t);
  return {{"source", source},
          {"threads", info.threads},
          {"ops", info.ops},
          {"allocs", info.count(trace::OpKind::alloc)},
          {"bytes_allocated", info.bytes_allocated},
          {"peak_live_bytes", info.peak_live_bytes},
          {"peak_live_blocks", info.peak_live_blocks},
          {"requests", info.scopes_by_kind[1]},
          {"connections", info.scopes_by_kind[0]},
          {"request_bytes_p50", info.request_bytes.p50},
          {"request_bytes_p99", info.request_bytes.p99},
          {"request_allocs_p50", info.request_allocs.p50},
          {"requests_within_8k_share",
           info.request_bytes.count ? double(info.requests_within_8k) / double(info.request_bytes.count) : 0.0},
          {"requests_within_8k_arena_share",
           info.request_bytes.count ? double(info.requests_within_8k_arena) / double(info.request_bytes.count) : 0.0},
          {"peak_open_requests", info.peak_open_requests},
          {"connection_bytes_p50", info.connection_bytes.p50},
          {"end_live_bytes", info.end_live_bytes},
          {"request_held_bytes_p50", info.request_held_bytes.p50},
          {"idle_connection_bytes_p50", info.idle_connection_bytes.p50},
          {"cross_thread_frees", info.cross_thread_frees},
          {"metadata", info.metadata}};
}

// Generates (or checks) every trace the cells need: path per trace key.
std::map<std::string, std::string> prepare_traces(const RunConfig& config, const std::vector<Cell>& cells,
                                                  const std::string& dir, json& workloads) {
  std::set<std::string> needed;
  for (const auto& c : cells) needed.insert(trace_key(c.workload, c.threads));
  std::map<std::string, std::string> paths;
  for (const auto& w : config.workloads) {
    if (w.is_file()) {
      std::string key = trace_key(w.name, w.file_threads);
      paths[key] = w.path;
      if (needed.count(key)) workloads[key] = trace_summary(trace::read_trace(w.path), w.path);
      continue;
    }
    const trace::Model* model = trace::find_model(w.model);
    for (std::uint32_t t : config.threads) {
      std::string key = trace_key(w.name, t);
      if (!needed.count(key)) continue;
      trace::ModelParams p;
      p.seed = config.seed;
      p.requests = w.requests;
      p.threads = t;
      p.options = w.params;
      if (config.weak_scaling()) p.copies = t;
      trace::Trace tr;
      try {
        tr = trace::generate(*model, p);
      } catch (const std::invalid_argument& e) {
        throw RunError(w.model + " at " + std::to_string(t) + " threads: " + e.what());
      }
      std::string file = w.name;
      std::replace_if(file.begin(), file.end(), [](char ch) { return ch == ':' || ch == ',' || ch == '='; }, '_');
      std::string path = dir + "/" + file + "-t" + std::to_string(t) + ".trace";
      trace::write_file(tr, path);
      paths[key] = path;
      workloads[key] = trace_summary(tr, "model " + w.model);
    }
  }
  return paths;
}

// How cells run under Callgrind (--count instructions).
struct Counting {
  std::string valgrind;
  std::vector<std::string> env;  // deterministic_env()
  std::string dir;               // where Callgrind writes each cell's totals

  std::string out_file(const Cell& cell) const { return dir + "/callgrind-" + std::to_string(cell.order) + ".out"; }
};

WorkerRequest cell_request(const RunConfig& config, const Cell& cell, const std::string& trace_path,
                           const Counting* counting) {
  std::vector<std::string> args = {"--task",   "replay",          "--trace", trace_path,
                                   "--touch",  config.touch,      "--sample", std::to_string(config.sample_one_in),
                                   "--seed",   std::to_string(config.seed + cell.rep)};
  if (counting) args.insert(args.end(), {"--count", "instructions"});
  if (config.pin) args.push_back("--pin");
  double idle = 0;
  for (const auto& w : config.workloads) {
    if (w.name != cell.workload) continue;
    if (w.age_bytes) args.insert(args.end(), {"--age-bytes", std::to_string(w.age_bytes)});
    if (w.idle_seconds > 0) args.insert(args.end(), {"--idle", std::to_string(w.idle_seconds)}), idle = w.idle_seconds;
  }
  WorkerRequest req;
  if (cell.backend == "null") {
    req.argv = {worker_executable(), "--spec", "null"};
    req.argv.insert(req.argv.end(), args.begin(), args.end());
  } else {
    req = worker_request(parse_backend_spec(cell.backend), args);
  }
  req.timeout = std::chrono::milliseconds(static_cast<long long>((config.timeout_seconds + idle) * 1000));
  req.memory_limit_bytes = config.memory_limit_bytes;
  req.cancel = &g_interrupted;
  if (counting) {
    // LD_PRELOAD passes through valgrind to the worker: Callgrind does not
    // replace malloc, so the worker still checks and measures its own.
    // The spec's own settings come after the deterministic ones, so that
    // they win: jemalloc[dirty_decay_ms=0] is counted with its decay.
    std::vector<std::string> env = counting->env;
    for (const auto& e : req.env) {
      auto same = std::find_if(env.begin(), env.end(), [&](const std::string& d) {
        return d.compare(0, d.find('=') + 1, e, 0, e.find('=') + 1) == 0;
      });
      if (same != env.end() && e.rfind("MALLOC_CONF=", 0) == 0) *same += "," + e.substr(12);
      else env.push_back(e);
    }
    req.argv = callgrind_command(counting->valgrind, counting->out_file(cell), env, req.argv);
    req.timeout = std::chrono::milliseconds(static_cast<long long>(config.timeout_seconds * kCallgrindSlowdown * 1000));
    req.memory_limit_bytes = 0;  // valgrind reserves address space far beyond what the worker uses
  }
  return req;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A counted cell's instructions, from the file Callgrind wrote (removed
// here). An ok cell whose file holds no count failed to measure.
void add_instructions(json& rec, const std::string& callgrind_file) {
  std::string text = slurp(callgrind_file);
  std::error_code ec;
  std::filesystem::remove(callgrind_file, ec);
  if (rec.value("status", "") != "ok") return;
  std::optional<std::uint64_t> ir = callgrind_instructions(text);
  if (!ir || *ir == 0) {
    rec.erase("replay");
    rec["status"] = "failed";
    rec["failure"] = {{"kind", "bad_output"},
                      {"reason", !ir ? "Callgrind wrote no instruction total to " + callgrind_file
                                     : "Callgrind counted no instructions in the replay (a worker built without "
                                       "<valgrind/callgrind.h>?)"}};
    return;
  }
  json& r = rec["replay"];
  std::uint64_t ops = r.value("ops", std::uint64_t{0});
  r["instructions"] = *ir;
  r["instructions_per_op"] = ops ? static_cast<double>(*ir) / static_cast<double>(ops) : 0.0;
}

// Each general allocator's version as a worker reports it.
json allocator_versions(const RunConfig& config) {
  auto timeout = std::chrono::milliseconds(static_cast<long long>(std::min(config.timeout_seconds, 30.0) * 1000));
  json out = json::object();
  std::set<std::string> bases;
  for (const auto& b : config.backends) {
    if (b == "null") continue;
    BackendSpec s = parse_backend_spec(b);
    std::string base = s.library ? std::string(library_name(*s.library)) : "preload:" + s.preload_path;
    if (!bases.insert(base).second) continue;
    ProbeResult probe = probe_backend(parse_backend_spec(base), timeout);
    if (probe.doc.is_object() && probe.doc.contains("identity")) {
      const json& id = probe.doc["identity"];
      out[base] = {{"family", id.value("family", "")}, {"version", id.value("version", "")},
                   {"object", id.value("malloc_object", "")}};
    } else {
      out[base] = {{"error", probe.reason()}};
    }
  }
  return out;
}

std::string signal_name(int sig) {
  const char* n = ::sigabbrev_np(sig);
  return n ? std::string("SIG") + n : "signal " + std::to_string(sig);
}

}  // namespace

json cell_record(const Cell& cell, const WorkerOutcome& out) {
  json rec = {{"id", cell.id()},       {"backend", cell.backend}, {"workload", cell.workload},
              {"threads", cell.threads}, {"rep", cell.rep},       {"order", cell.order},
              {"worker_seconds", out.wall_seconds}};
  json doc = json::parse(out.out, nullptr, false);
  if (!doc.is_object()) doc = nullptr;
  if (doc.is_object() && doc.contains("identity")) {
    rec["malloc"] = {{"family", doc["identity"].value("family", "")}, {"version", doc["identity"].value("version", "")}};
    if (doc.contains("settings") && doc["settings"].is_object()) rec["malloc"]["settings"] = doc["settings"];
  }
  auto failed = [&](const std::string& kind, const std::string& reason) {
    rec["status"] = "failed";
    rec["failure"] = {{"kind", kind}, {"reason", reason}};
    if (out.status == WorkerOutcome::Status::exited) rec["failure"]["exit_code"] = out.exit_code;
    if (out.status == WorkerOutcome::Status::signaled) rec["failure"]["signal"] = signal_name(out.signal);
    std::string last = out.last_error_line();
    if (!last.empty()) rec["failure"]["stderr"] = last;
    return rec;
  };
  std::string worker_reason = doc.is_object() && doc.contains("reason") ? doc["reason"].get<std::string>() : "";
  switch (out.status) {
    case WorkerOutcome::Status::signaled:
      return failed(out.signal == SIGKILL ? "killed" : "crashed", out.describe());
    case WorkerOutcome::Status::timed_out:
      return failed("timed_out", out.describe());
    case WorkerOutcome::Status::output_overflow:
      return failed("output_overflow", out.describe());
    case WorkerOutcome::Status::spawn_failed:
    case WorkerOutcome::Status::cancelled:
      return failed("spawn_failed", out.describe());
    case WorkerOutcome::Status::exited:
      break;
  }
  if (out.exit_code == worker_exit::kOk) {
    if (!doc.is_object() || !doc.contains("replay") || doc.value("status", "") != "ok")
      return failed("bad_output", "the worker exited 0 without a replay result");
    rec["status"] = "ok";
    rec["replay"] = std::move(doc["replay"]);
    return rec;
  }
  if (out.exit_code == worker_exit::kRefused && doc.is_object() && doc.value("status", "") == "unsupported") {
    rec["status"] = "unsupported";
    rec["reason"] = worker_reason;
    return rec;
  }
  std::string reason = worker_reason.empty() ? out.describe() : worker_reason;
  switch (out.exit_code) {
    case worker_exit::kRefused: return failed("refused", reason);
    case worker_exit::kBadInput: return failed("bad_input", reason);
    case worker_exit::kBackendFailed: return failed("backend_failed", reason);
    default: return failed("error", reason);
  }
}

int execute_run(const RunOptions& o) {
  const RunConfig& config = o.config;
  namespace fs = std::filesystem;
  if (auto why = config.problem(); !why.empty()) throw RunError(why);
  std::optional<Counting> counting;
  if (config.counts_instructions()) {
    const char* path = std::getenv("PATH");
    std::optional<std::string> valgrind = find_valgrind(path ? path : "");
    if (!valgrind) throw RunError("--count instructions needs valgrind (apt-get install valgrind)");
    // Workers inherit no allocator variables (worker_request): a spec's
    // settings are their only configuration.
    counting = Counting{*valgrind, deterministic_env(nullptr), ""};
  }
  OutputLock lock(o.output);  // held until the run ends: one run per output
  bool exists = fs::exists(o.output);
  if (exists && !o.resume && !o.force)
    throw RunError(o.output + " exists: --resume continues it, --force overwrites it");

  remove_leftovers();
  remove_stale_temporaries(resolve_output_path(o.output));
  std::vector<Cell> all = plan_cells(config);
  std::vector<Cell> cells = shard_cells(all, o.shard_index, o.shard_count);

  Results results;
  if (o.resume && exists) {
    try {
      results = Results::read(o.output);
    } catch (const ResultsError& e) {
      throw RunError(std::string(e.what()) + " (cannot resume it)");
    }
    if (results.config != config.to_json())
      throw RunError(o.output + " was written by a run with another configuration (backends, workloads, threads, "
                                "reps, seed, touch, sample, timeout, memory limit or count differ); cannot resume it");
    if (results.shard_index != o.shard_index || results.shard_count != o.shard_count)
      throw RunError(o.output + " holds shard " + std::to_string(results.shard_index) + "/" +
                     std::to_string(results.shard_count) + ", not " + std::to_string(o.shard_index) + "/" +
                     std::to_string(o.shard_count));
  }
  std::vector<Cell> todo;
  for (const auto& c : cells)
    if (!results.has(c.id())) todo.push_back(c);

  TempDir dir;
  if (counting) counting->dir = dir.path();
  json workloads = results.workloads.is_object() ? results.workloads : json::object();
  auto traces = prepare_traces(config, todo, dir.path(), workloads);
  if (!o.resume || !exists) {
    results.context = machine_context();
    results.context["allocators"] = allocator_versions(config);
  }
  results.config = config.to_json();
  results.workloads = workloads;
  results.shard_index = o.shard_index;
  results.shard_count = o.shard_count;
  results.total_cells = all.size();
  results.shard_cells = cells.size();
  results.write(o.output);

  if (!o.quiet && !todo.empty() && cells.size() != todo.size())
    std::fprintf(stderr, "alloclab: resuming %s: %zu of %zu cells done\n", o.output.c_str(),
                 cells.size() - todo.size(), cells.size());

  InterruptGuard guard;
  g_interrupted.store(false);
  Progress progress(cells.size(), cells.size() - todo.size(), o.quiet);
  auto started = std::chrono::steady_clock::now();
  bool interrupted = false;
  for (const auto& cell : todo) {
    std::string label = cell.backend + " " + cell.workload + " t" + std::to_string(cell.threads) + " r" +
                        std::to_string(cell.rep + 1);
    progress.starting(label);
    const Counting* count = counting ? &*counting : nullptr;
    WorkerOutcome out =
        run_worker(cell_request(config, cell, traces.at(trace_key(cell.workload, cell.threads)), count));
    if (g_interrupted.load()) {  // the cell in flight does not count
      interrupted = true;
      break;
    }
    json rec = cell_record(cell, out);
    if (count) add_instructions(rec, count->out_file(cell));
    results.add(rec);
    results.write(o.output);
    std::string outcome = rec["status"].get<std::string>();
    if (outcome == "failed") outcome = "FAILED: " + rec["failure"]["reason"].get<std::string>();
    progress.finished(label, outcome, out.wall_seconds);
  }
  progress.close();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::uint64_t ok = 0, unsupported = 0;
  for (const auto& c : results.cells) ok += c.status == "ok", unsupported += c.status == "unsupported";
  if (!o.quiet || interrupted || results.failed()) {
    std::fprintf(stderr, "alloclab: %zu of %zu cells in %s: %llu ok, %llu unsupported, %llu failed (%s)\n",
                 results.cells.size(), cells.size(), o.output.c_str(), static_cast<unsigned long long>(ok),
                 static_cast<unsigned long long>(unsupported), static_cast<unsigned long long>(results.failed()),
                 format_duration(seconds).c_str());
  }
  if (interrupted) {
    std::fprintf(stderr, "alloclab: interrupted; `alloclab run ... --resume -o %s` continues\n", o.output.c_str());
    return 130;
  }
  return results.failed() ? 3 : 0;
}

}  // namespace alloclab::run
