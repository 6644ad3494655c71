#include "harness/backend_check.hpp"

#include <sys/stat.h>

#include "allocators/registry.hpp"
#include "harness/worker_protocol.hpp"

namespace alloclab {

WorkerRequest worker_request(const BackendSpec& spec, std::vector<std::string> task_args) {
  WorkerRequest req;
  req.argv = {worker_executable(), "--spec", spec.canonical()};
  req.argv.insert(req.argv.end(), task_args.begin(), task_args.end());
  req.preload = spec.preload();
  req.env = spec.environment();
  req.drop_inherited = [](std::string_view e) { return is_allocator_variable(e); };
  return req;
}

std::string ProbeResult::reason() const {
  if (doc.is_object() && doc.contains("reason")) return doc["reason"].get<std::string>();
  return outcome.describe();
}

ProbeResult probe_backend(const BackendSpec& spec, std::chrono::milliseconds timeout) {
  ProbeResult r;
  auto req = worker_request(spec, {"--task", "probe"});
  req.timeout = timeout;
  r.outcome = run_worker(req);
  r.doc = nlohmann::json::parse(r.outcome.out, nullptr, /*allow_exceptions=*/false);
  if (r.doc.is_discarded()) r.doc = nullptr;
  return r;
}

void check_backend(const BackendSpec& spec, std::chrono::milliseconds timeout) {
  if (!spec.is_general()) {
    try {
      with_registration(spec.strategy, [&](const auto& reg) { (void)reg.make(spec.options); });
    } catch (const std::invalid_argument& e) {
      throw SpecError(e.what());
    }
  }
  std::string lib = spec.preload();
  if (!lib.empty()) {
    struct stat st {};
    if (::stat(lib.c_str(), &st) != 0) {
      throw SpecError(spec.preload_path.empty()
                          ? "library for " + spec.base_name + " not found at " + lib + " (run scripts/install-deps.sh)"
                          : "preload library '" + lib + "' does not exist");
    }
    if (!S_ISREG(st.st_mode)) throw SpecError("preload library '" + lib + "' is not a regular file");
  }
  // A built-in library with its defaults is verified by every worker.
  if (spec.preload_path.empty() && spec.settings.empty()) return;
  ProbeResult probe = probe_backend(spec, timeout);
  bool refused = probe.outcome.status == WorkerOutcome::Status::exited &&
                 probe.outcome.exit_code == worker_exit::kRefused;
  if (!refused) return;
  if (!spec.preload_path.empty()) throw SpecError("'" + lib + "' is not a malloc library: " + probe.reason());
  throw SpecError(probe.reason());
}

}  // namespace alloclab
