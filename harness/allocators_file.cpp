#include "harness/allocators_file.hpp"

#include <fstream>
#include <sstream>

#include "allocators/registry.hpp"

namespace alloclab {

std::vector<ExternalAllocator> read_allocators_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw AllocatorsFileError("cannot read allocators file '" + path + "'");
  std::string dir = path.find('/') == std::string::npos ? "" : path.substr(0, path.rfind('/') + 1);
  std::vector<ExternalAllocator> out;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    auto where = [&] { return path + ":" + std::to_string(lineno) + ": "; };
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string name, lib, extra;
    if (!(fields >> name)) continue;
    if (!(fields >> lib) || (fields >> extra)) throw AllocatorsFileError(where() + "expected 'name path'");
    if (name.find_first_of("@:,/") != std::string::npos) {
      throw AllocatorsFileError(where() + "name '" + name + "' may not contain @ : , or /");
    }
    bool builtin = with_registration(name, [](const auto&) {});
    if (builtin) throw AllocatorsFileError(where() + "'" + name + "' is a built-in backend name");
    for (const auto& e : out) {
      if (e.name == name) throw AllocatorsFileError(where() + "'" + name + "' is defined twice");
    }
    if (lib.front() != '/') lib = dir + lib;
    out.push_back({name, lib});
  }
  return out;
}

}  // namespace alloclab
