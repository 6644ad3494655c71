#include "allocators/spec.hpp"

#include "allocators/registry.hpp"

namespace alloclab {

namespace {

constexpr std::string_view kPreload = "preload:";

// Splits "LIB[k=v,...]" into the name and the text between the brackets;
// nullopt for the settings when there are no brackets.
std::pair<std::string_view, std::optional<std::string_view>> split_settings(std::string_view name) {
  auto open = name.find('[');
  if (open == std::string_view::npos) {
    if (name.find(']') != std::string_view::npos)
      throw SpecError("'" + std::string(name) + "' has a ']' without '['; settings are written LIB[key=value,...]");
    return {name, std::nullopt};
  }
  if (name.back() != ']' || name.find(']') != name.size() - 1 || name.find('[', open + 1) != std::string_view::npos)
    throw SpecError("'" + std::string(name) + "': settings are written LIB[key=value,...], one pair of brackets at the end");
  return {name.substr(0, open), name.substr(open + 1, name.size() - open - 2)};
}

// Fills the base fields from a general allocator's name. False if the name
// is no general allocator.
bool set_base(BackendSpec& spec, std::string_view full, std::span<const ExternalAllocator> externals) {
  if (full.starts_with(kPreload)) {
    std::string_view path = full.substr(kPreload.size());
    if (path.empty()) throw SpecError("'preload:' needs a path: preload:/path/to/lib.so");
    spec.preload_path = path;
    spec.base_name = full;
    return true;
  }
  auto [name, settings] = split_settings(full);
  if (settings) {
    auto lib = library_from_name(name);
    if (!lib) {
      bool known = false;
      for (const auto& e : externals) known = known || e.name == name;
      if (!known) return false;
      throw SpecError("'" + std::string(name) + "' is a preload library: settings [...] are for glibc, jemalloc, "
                      "mimalloc and tcmalloc, whose configuration alloclab knows");
    }
    try {
      spec.settings = AllocatorSettings::parse(*lib, *settings);
    } catch (const std::invalid_argument& e) {
      throw SpecError(e.what());
    }
    spec.library = lib;
    spec.base_name = std::string(name) + spec.settings.to_string();
    return true;
  }
  for (const auto& e : externals) {
    if (e.name == name) {
      spec.preload_path = e.path;
      spec.base_name = name;
      return true;
    }
  }
  if (auto lib = library_from_name(name)) {
    spec.library = lib;
    spec.base_name = name;
    return true;
  }
  return false;
}

}  // namespace

std::string backend_choices(std::span<const ExternalAllocator> externals) {
  std::string s;
  for (auto n : registered_names(true)) s += std::string(n) + ", ";
  for (const auto& e : externals) s += e.name + ", ";
  for (auto n : registered_names(false)) s += std::string(n) + "[@BASE], ";
  s += "LIB[key=value,...], preload:/path/lib.so";
  return s;
}

BackendSpec parse_backend_spec(std::string_view text, std::span<const ExternalAllocator> externals) {
  BackendSpec spec;
  if (text.empty()) throw SpecError("empty backend name; valid: " + backend_choices(externals));
  if (text.starts_with(kPreload)) {
    set_base(spec, text, externals);
    return spec;
  }
  auto at = text.find('@');
  std::string_view head = text.substr(0, at);
  std::string_view base = at == std::string_view::npos ? std::string_view{} : text.substr(at + 1);
  auto colon = head.find(':');
  std::string_view name = head.substr(0, colon);
  std::string_view opts = colon == std::string_view::npos ? std::string_view{} : head.substr(colon + 1);

  bool is_strategy = false;
  with_registration(name, [&](const auto& reg) { is_strategy = !reg.is_general(); });
  if (!is_strategy && name.find('[') != std::string_view::npos) {
    std::string_view bare = name.substr(0, name.find('['));
    with_registration(bare, [&](const auto& reg) {
      if (!reg.is_general())
        throw SpecError("'" + std::string(name) + "': settings [...] are for general allocators; a strategy takes "
                        "options as " + std::string(bare) + ":key=value, and its base settings as " +
                        std::string(bare) + "@jemalloc[key=value]");
    });
  }
  if (!is_strategy) {
    if (!set_base(spec, name, externals)) {
      throw SpecError("unknown backend '" + std::string(name) + "'; valid: " + backend_choices(externals));
    }
    if (at != std::string_view::npos) {
      throw SpecError("'" + std::string(name) + "' is a general allocator and takes no @BASE; "
                      "only strategies compose (e.g. bump@" + std::string(name) + ")");
    }
    if (colon != std::string_view::npos) {
      throw SpecError("'" + std::string(name) + "' is a general allocator and takes no options");
    }
    return spec;
  }
  spec.strategy = name;
  try {
    spec.options = BackendOptions::parse(opts);
  } catch (const std::invalid_argument& e) {
    throw SpecError(std::string(name) + ": " + e.what());
  }
  if (at == std::string_view::npos) {
    spec.library = Library::glibc;
    spec.base_name = "glibc";
  } else if (base.empty() || !set_base(spec, base, externals)) {
    std::string bases;
    for (auto n : registered_names(true)) bases += std::string(n) + ", ";
    for (const auto& e : externals) bases += e.name + ", ";
    throw SpecError("unknown base '" + std::string(base) + "' in '" + std::string(text) +
                    "'; valid bases: " + bases + "preload:/path/lib.so");
  }
  return spec;
}

std::string BackendSpec::preload() const {
  if (!preload_path.empty()) return preload_path;
  return library ? std::string(library_preload_path(*library)) : std::string();
}

std::vector<std::string> BackendSpec::environment() const {
  return library ? settings.environment(*library) : std::vector<std::string>{};
}

std::string BackendSpec::canonical() const {
  std::string base = library ? std::string(library_name(*library)) + settings.to_string() : "preload:" + preload_path;
  if (is_general()) return base;
  std::string s = strategy;
  if (!options.empty()) s += ":" + options.to_string();
  return s + "@" + base;
}

std::string BackendSpec::display() const {
  if (is_general()) return base_name;
  std::string s = strategy;
  if (!options.empty()) s += ":" + options.to_string();
  return s + "@" + base_name;
}

}  // namespace alloclab
