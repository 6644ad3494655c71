// alloclab-worker: runs one backend in a process of its own.
//
// The orchestrator starts it with the backend's general allocator preloaded:
//   alloclab-worker --spec CANONICAL_SPEC --task probe|smoke [--rounds N]
//   alloclab-worker --spec CANONICAL_SPEC --task replay --trace FILE
//                   [--touch pages|all|first|none] [--sample N] [--seed N]
//                   [--count time|instructions|wall] [--pin]
//                   [--age-bytes N] [--idle SECONDS]
// (--spec null replays against the null backend: the harness's own cost.)
// --count instructions replays untimed, for Callgrind to count (the runner
// starts the worker under it): a one-thread trace only, no clock calibrated,
// no timeline, collection switched on around the replay's ops only
// (harness/replay/replay.hpp, "Counting").
// --count wall replays with no timer read inside the replay and reports the
// threads' wall time only (replay.hpp, "Untimed"): the floor under the timed
// replay's busy time. Not a cell of a results file: scripts/bench-harness.sh
// reads it. Null and the general allocators only.
// It first checks that the allocator answering malloc is the one the spec
// names, and that the spec's settings (jemalloc[thp=always]) took effect
// where the library reports them, and refuses (exit 4) otherwise; then it
// runs the task and prints one JSON document on stdout. Exit statuses: harness/worker_protocol.hpp.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "allocators/general/allocator_stats.hpp"
#include "allocators/general/library.hpp"
#include "allocators/general/settings.hpp"
#include "allocators/registry.hpp"
#include "allocators/spec.hpp"
#include "harness/replay/null_backend.hpp"
#include "harness/replay/replay_cell.hpp"
#include "harness/run/context.hpp"
#include "harness/smoke.hpp"
#include "workloads/trace_file.hpp"
#include "harness/worker_protocol.hpp"
#include "harness/worker/wall_replay.hpp"

namespace {

using nlohmann::json;
using namespace alloclab;

[[noreturn]] void fail(int status, const std::string& message, json doc = json::object()) {
  doc["status"] = status == worker_exit::kRefused ? "refused" : "error";
  doc["reason"] = message;
  std::cout << doc.dump() << '\n';
  std::cout.flush();
  std::cerr << "alloclab-worker: " << message << '\n';
  std::exit(status);
}

json to_json(const MallocIdentity& id) {
  return {{"family", id.family},
          {"version", id.version},
          {"malloc_object", id.malloc_object},
          {"owns_fresh_block", id.owns_fresh_block},
          {"evidence", id.evidence}};
}

// {key: {requested, verified, how}}; `verified` absent when the library
// cannot report the value.
json to_json(const SettingsVerdict& v) {
  json out = json::object();
  for (const auto& c : v.checks) {
    json one = {{"requested", c.requested}, {"how", c.how}};
    if (c.verified) one["verified"] = *c.verified;
    out[c.key] = std::move(one);
  }
  return out;
}

json to_json(const SmokeResult& r) {
  return {{"operations", r.operations},
          {"allocations", r.allocations},
          {"failed", r.failed},
          {"corrupted", r.corrupted},
          {"misaligned", r.misaligned},
          {"seconds", r.seconds},
          {"ns_per_op", r.operations ? r.seconds * 1e9 / static_cast<double>(r.operations) : 0.0}};
}

// Runs the smoke loop; returns its figures and why it failed (empty if it
// did not). A nullptr is a failure only when the backend did not count it:
// a counted refusal (a limit, a capacity) is the backend's named behaviour.
template <Backend B>
std::string run_smoke(B& backend, std::uint64_t rounds, json& out) {
  SmokeResult r = smoke(backend, rounds);
  out["smoke"] = to_json(r);
  std::uint64_t counted = 0;
  if constexpr (HasStats<B>) {
    BackendStats st = backend.stats();
    out["stats"] = replay::stats_json(st);
    counted = st.failed_allocations + st.rejections;
  }
  if (r.corrupted != 0 || r.misaligned != 0 || r.failed > counted) {
    return "backend misbehaved in the smoke run: " + std::to_string(r.failed) + " refused (" +
           std::to_string(counted) + " counted by the backend), " + std::to_string(r.corrupted) +
           " corrupted, " + std::to_string(r.misaligned) + " misaligned blocks";
  }
  return "";
}

struct ReplayArgs {
  std::string trace;
  replay::Touch touch = replay::Touch::pages;
  std::uint32_t sample = 16;
  std::uint64_t seed = 1;
  bool count_instructions = false;
  bool count_wall = false;  // --count wall
  bool pin = false;  // each replay thread on a CPU of its own (the usable ones, in order)
  std::uint64_t age_bytes = 0;  // an aged heap first (harness/replay/age.hpp)
  double idle_seconds = 0;      // RSS sampled while idle after the replay
};

// The timeline's allocator column: the process allocator's heap bytes.
std::uint64_t heap_bytes_now() { return read_allocator_counters().heap_bytes; }
std::uint64_t thread_cache_bytes_now() { return read_allocator_counters().thread_cache_bytes; }

json clock_json(const replay::ClockCalibration& c) {
  return {{"ns_per_tick", c.ns_per_tick},
          {"overhead_ns", c.overhead_ns},
          {"resolution_ns", c.resolution_ns},
          {"samples", c.samples}};
}

// The untimed replay for Callgrind. Several threads would make the count
// depend on how the threads interleave (how often a wait spins), so a
// trace of one thread only.
void count_replay(const BackendSpec* spec, const replay::Plan& plan, const ReplayArgs& a, json& doc) {
  if (plan.threads.size() != 1)
    fail(worker_exit::kBadInput, "--count instructions replays a one-thread trace; this one has " +
                                     std::to_string(plan.threads.size()) + " threads", doc);
  replay::CellOptions o;
  o.touch = a.touch;
  json r;
  if (!spec) {
    r = replay::count_cell<replay::NullBackend>([] { return std::make_unique<replay::NullBackend>(); }, plan, o);
  } else if (spec->is_general()) {
    r = replay::count_cell<MallocBackend>([] { return std::make_unique<MallocBackend>(); }, plan, o);
  } else {
    with_registration(spec->strategy, [&](const auto& reg) {
      using B = typename std::remove_cvref_t<decltype(*reg.make(spec->options))>;
      r = replay::count_cell<B>([&] { return reg.make(spec->options); }, plan, o);
    });
  }
  doc["replay"] = std::move(r);
}

// Loads and plans the trace, then replays it against the backend the spec
// names (instantiated for its exact type).
void run_replay(const BackendSpec* spec, const ReplayArgs& a, json& doc) {
  trace::Trace t;
  try {
    t = trace::read_trace(a.trace);
  } catch (const trace::TraceError& e) {
    fail(worker_exit::kBadInput, e.what(), doc);
  }
  replay::Plan plan = replay::make_plan(t, a.sample, a.seed);
  t = {};  // the plan holds what the replay needs
  if (a.count_instructions) {
    count_replay(spec, plan, a, doc);
    return;
  }
  replay::ClockCalibration clock = replay::calibrate();
  replay::CellOptions o;
  o.touch = a.touch;
  if (a.pin) o.pin_cpus = run::usable_cpu_list();
  if (a.count_wall) {
    if (spec && !spec->is_general())
      fail(worker_exit::kBadInput, "--count wall replays null and the general allocators, not " + spec->display(), doc);
    doc["replay"] = wall_replay(spec != nullptr, plan, o, clock);
    doc["replay"]["clock"] = clock_json(clock);
    return;
  }
  o.heap_probe = heap_bytes_now;
  o.age_bytes = a.age_bytes;
  o.age_seed = a.seed;
  o.idle_seconds = a.idle_seconds;
  if (read_allocator_counters().thread_cache_bytes != AllocatorCounters::kNotReported)
    o.thread_cache_probe = thread_cache_bytes_now;
  json r;
  if (!spec) {
    r = replay::replay_cell<replay::NullBackend>([] { return std::make_unique<replay::NullBackend>(); }, plan, o, clock);
  } else if (spec->is_general()) {
    r = replay::replay_cell<MallocBackend>([] { return std::make_unique<MallocBackend>(); }, plan, o, clock);
  } else {
    with_registration(spec->strategy, [&](const auto& reg) {
      using B = typename std::remove_cvref_t<decltype(*reg.make(spec->options))>;
      r = replay::replay_cell<B>([&] { return reg.make(spec->options); }, plan, o, clock);
    });
  }
  r["clock"] = clock_json(clock);
  doc["replay"] = std::move(r);
}

}  // namespace

int main(int argc, char** argv) {
  std::string spec_text, task = "probe";
  std::uint64_t rounds = 200000;
  ReplayArgs replay_args;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(worker_exit::kBadInput, "missing value for " + std::string(a));
      return argv[++i];
    };
    if (a == "--spec") spec_text = value();
    else if (a == "--task") task = value();
    else if (a == "--rounds") rounds = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--trace") replay_args.trace = value();
    else if (a == "--sample") replay_args.sample = static_cast<std::uint32_t>(std::strtoul(value().c_str(), nullptr, 10));
    else if (a == "--seed") replay_args.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--touch") {
      std::string v = value();
      if (v == "all") replay_args.touch = replay::Touch::all;
      else if (v == "pages") replay_args.touch = replay::Touch::pages;
      else if (v == "first") replay_args.touch = replay::Touch::first;
      else if (v == "none") replay_args.touch = replay::Touch::none;
      else fail(worker_exit::kBadInput, "--touch must be pages, all, first or none");
    }
    else if (a == "--pin") replay_args.pin = true;
    else if (a == "--age-bytes") {
      std::string v = value();
      char* end = nullptr;
      replay_args.age_bytes = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end || replay_args.age_bytes > (std::uint64_t{64} << 30))
        fail(worker_exit::kBadInput, "--age-bytes must be a byte count up to 64 GiB");
    }
    else if (a == "--idle") {
      std::string v = value();
      char* end = nullptr;
      replay_args.idle_seconds = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(replay_args.idle_seconds >= 0 && replay_args.idle_seconds <= 600))
        fail(worker_exit::kBadInput, "--idle must be seconds from 0 to 600");
    }
    else if (a == "--count") {
      std::string v = value();
      if (v != "time" && v != "instructions" && v != "wall")
        fail(worker_exit::kBadInput, "--count must be time, instructions or wall");
      replay_args.count_instructions = v == "instructions";
      replay_args.count_wall = v == "wall";
    }
    else fail(worker_exit::kBadInput, "unknown argument '" + std::string(a) + "'");
  }
  if (task != "probe" && task != "smoke" && task != "replay")
    fail(worker_exit::kBadInput, "unknown task '" + task + "' (probe, smoke, replay)");
  if (task == "replay" && replay_args.trace.empty()) fail(worker_exit::kBadInput, "--task replay needs --trace FILE");
  if (spec_text == "null") {
    if (task != "replay") fail(worker_exit::kBadInput, "the null backend only replays");
    json doc{{"spec", "null"}, {"task", task}};
    run_replay(nullptr, replay_args, doc);
    doc["status"] = doc["replay"]["status"];
    std::cout << doc.dump() << '\n';
    return doc["status"] == "ok" ? worker_exit::kOk : worker_exit::kBackendFailed;
  }

  BackendSpec spec;
  try {
    spec = parse_backend_spec(spec_text);
  } catch (const SpecError& e) {
    fail(worker_exit::kBadInput, e.what());
  }

  json doc;
  doc["spec"] = spec.canonical();
  doc["task"] = task;
  MallocIdentity id = identify_process_malloc();
  doc["identity"] = to_json(id);
  if (auto why = identity_mismatch(id, spec.preload_path.empty() ? spec.library : std::nullopt,
                                   spec.preload_path)) {
    fail(worker_exit::kRefused, "refusing to run " + spec.display() + ": " + *why, doc);
  }
  if (!spec.settings.empty()) {
    SettingsVerdict verdict = verify_settings(*spec.library, spec.settings, id);
    doc["settings"] = to_json(verdict);
    if (!verdict.mismatch.empty())
      fail(worker_exit::kRefused, "refusing to run " + spec.display() + ": " + verdict.mismatch, doc);
  }
  if (task == "smoke") {
    std::string failure;
    try {
      if (spec.is_general()) {
        MallocBackend backend;
        failure = run_smoke(backend, rounds, doc);
      } else {
        with_registration(spec.strategy, [&](const auto& reg) {
          auto backend = reg.make(spec.options);
          failure = run_smoke(*backend, rounds, doc);
        });
      }
    } catch (const std::invalid_argument& e) {
      fail(worker_exit::kBadInput, e.what(), doc);
    }
    if (!failure.empty()) fail(worker_exit::kBackendFailed, failure, doc);
  }
  if (task == "replay") {
    try {
      run_replay(&spec, replay_args, doc);
    } catch (const std::invalid_argument& e) {
      fail(worker_exit::kBadInput, e.what(), doc);
    }
    if (doc["replay"]["status"] == "unsupported") {
      doc["status"] = "unsupported";
      doc["reason"] = doc["replay"]["reason"];
      std::cout << doc.dump() << '\n';
      return worker_exit::kRefused;
    }
  }
  doc["status"] = "ok";
  std::cout << doc.dump() << '\n';
  return worker_exit::kOk;
}
