// alloclab list [--json]: every registered backend with its description,
// capabilities and, for general allocators, the library version a worker
// really loaded.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "allocators/registry.hpp"
#include "harness/backend_check.hpp"
#include "harness/cli/cli.hpp"

namespace alloclab::cli {

namespace {

using nlohmann::json;

json library_entry(const BackendSpec& spec) {
  ProbeResult probe = probe_backend(spec);
  if (!probe.ok() || !probe.doc.is_object()) {
    return {{"available", false}, {"reason", probe.reason()}};
  }
  const json& id = probe.doc["identity"];
  return {{"available", true},
          {"family", id["family"]},
          {"version", id["version"]},
          {"path", id["malloc_object"]},
          {"evidence", id["evidence"]}};
}

// The settings a general allocator accepts in LIB[key=value,...].
json settings_json(Library lib) {
  json out = json::array();
  for (const auto& d : setting_defs(lib)) {
    out.push_back({{"key", d.key},
                   {"values", describe_setting(d)},
                   {"meaning", d.help},
                   {"read_back", d.read != ReadBack::none}});
  }
  return out;
}

json capabilities_json(const Capabilities& c) {
  return {{"frees_individually", c.frees_individually},
          {"scoped", c.scoped},
          {"thread_safe", c.thread_safe}};
}

int run_list(Context& ctx, bool as_json) {
  json backends = json::array();
  std::vector<std::string> bases;
  for_each_registration([&](const auto& reg) {
    if (reg.is_general()) bases.emplace_back(reg.name);
  });
  for (const auto& e : ctx.externals()) bases.push_back(e.name);

  for_each_registration([&](const auto& reg) {
    json b = {{"name", reg.name},
              {"kind", reg.is_general() ? "general" : "strategy"},
              {"description", reg.description},
              {"capabilities", capabilities_json(reg.capabilities)}};
    if (reg.is_general()) {
      b["library"] = library_entry(parse_backend_spec(reg.name));
      Library lib = *library_from_name(reg.name);
      b["settings_variable"] = settings_variable(lib);
      b["settings"] = settings_json(lib);
    } else {
      b["composes_over"] = bases;
    }
    backends.push_back(std::move(b));
  });
  for (const auto& e : ctx.externals()) {
    BackendSpec spec = parse_backend_spec(e.name, ctx.externals());
    backends.push_back({{"name", e.name},
                        {"kind", "preload"},
                        {"description", "named in " + ctx.allocators_file + ": " + e.path},
                        {"capabilities", capabilities_json(MallocBackend::capabilities)},
                        {"library", library_entry(spec)}});
  }

  if (as_json) {
    std::cout << json{{"backends", backends}}.dump(2) << '\n';
    return kExitOk;
  }
  std::printf("%-14s %-9s %-20s %-9s %s\n", "NAME", "KIND", "CAPABILITIES", "VERSION", "DESCRIPTION");
  for (const auto& b : backends) {
    const auto& c = b["capabilities"];
    std::string caps = capability_names(c["frees_individually"], c["scoped"], c["thread_safe"]);
    std::string version = "-";
    if (b.contains("library")) {
      const auto& lib = b["library"];
      version = lib["available"].get<bool>() ? lib["version"].get<std::string>() : "unavailable";
    }
    std::printf("%-14s %-9s %-20s %-9s %s\n", b["name"].get<std::string>().c_str(),
                b["kind"].get<std::string>().c_str(), caps.c_str(), version.c_str(),
                b["description"].get<std::string>().c_str());
    if (b.contains("library") && b["library"]["available"].get<bool>()) {
      std::printf("%-45s loaded from %s\n", "", b["library"]["path"].get<std::string>().c_str());
    } else if (b.contains("library")) {
      std::printf("%-45s %s\n", "", b["library"]["reason"].get<std::string>().c_str());
    }
    if (b.contains("settings")) {
      std::printf("%-45s settings, as %s[key=value,...] (in %s):\n", "", b["name"].get<std::string>().c_str(),
                  b["settings_variable"].get<std::string>().c_str());
      for (const auto& k : b["settings"])
        std::printf("%-47s %-28s %s%s\n", "", k["key"].get<std::string>().c_str(),
                    k["values"].get<std::string>().c_str(), k["read_back"].get<bool>() ? "" : " (not read back)");
    }
  }
  std::printf("\nStrategies compose over any general allocator: STRATEGY@BASE, e.g. bump@jemalloc.\n"
              "Settings: jemalloc[dirty_decay_ms=0,thp=always], bump@glibc[arena_max=1]; a worker reads each\n"
              "value back from its library and refuses to measure when it differs. --json gives each key's meaning.\n");
  return kExitOk;
}

}  // namespace

void add_list_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("list", "List every backend: description, capabilities, loaded version");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "Machine-readable output");
  cmd->callback([&ctx, as_json] { ctx.action = [&ctx, as_json] { return run_list(ctx, *as_json); }; });
}

}  // namespace alloclab::cli
