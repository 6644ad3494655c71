#include "harness/run/callgrind.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

namespace alloclab::run {

std::optional<std::string> find_valgrind(const std::string& path_list) {
  std::size_t start = 0;
  while (start <= path_list.size()) {
    std::size_t end = path_list.find(':', start);
    if (end == std::string::npos) end = path_list.size();
    std::string dir = path_list.substr(start, end - start);
    start = end + 1;
    // An empty entry would mean the current directory: not searched.
    if (dir.empty()) continue;
    std::string candidate = dir + "/valgrind";
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

std::vector<std::string> callgrind_command(const std::string& valgrind, const std::string& out_file,
                                           const std::vector<std::string>& env,
                                           const std::vector<std::string>& worker_argv) {
  // The worker's request appends its variables after the inherited ones,
  // and getenv() finds the first: env(1) replaces an inherited one instead.
  std::vector<std::string> cmd = {"/usr/bin/env"};
  cmd.insert(cmd.end(), env.begin(), env.end());
  cmd.insert(cmd.end(), {valgrind, "--tool=callgrind", "--quiet",
                         "--callgrind-out-file=" + out_file,
                         // Nothing is counted until the worker switches collection on.
                         "--collect-atstart=no",
                         // Totals only: no per-instruction or per-line costs, no
                         // compressed names to decode.
                         "--dump-instr=no", "--dump-line=no", "--compress-strings=no", "--compress-pos=no"});
  cmd.insert(cmd.end(), worker_argv.begin(), worker_argv.end());
  return cmd;
}

std::vector<std::string> deterministic_env(const char* user_malloc_conf) {
  std::string conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
  if (user_malloc_conf && *user_malloc_conf) conf = std::string(user_malloc_conf) + "," + conf;
  return {
      "MALLOC_CONF=" + conf,
      // mimalloc 2.0.x (Debian 12's) decommits freed memory after
      // decommit_delay (25 ms) and segment_decommit_delay (500 ms), timed by
      // the clock; with allow_decommit off it never decommits and never reads
      // the clock for it. mimalloc 2.1 and later name the delay purge_delay
      // (-1: never); 2.0.x ignores that name.
      "MIMALLOC_ALLOW_DECOMMIT=0",
      "MIMALLOC_PURGE_DELAY=-1",
  };
}

std::optional<std::uint64_t> callgrind_instructions(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::optional<std::size_t> column;  // Ir's position in the events line
  std::optional<std::uint64_t> totals, summary;
  auto value_at = [](const std::string& values, std::size_t i) -> std::optional<std::uint64_t> {
    std::istringstream v(values);
    std::string word;
    for (std::size_t k = 0; v >> word; ++k) {
      if (k != i) continue;
      if (word.size() > 19 || word.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
      return std::stoull(word);
    }
    return 0;  // trailing zero costs may be left out
  };
  while (std::getline(in, line)) {
    if (line.rfind("events:", 0) == 0) {
      std::istringstream names(line.substr(7));
      std::string name;
      for (std::size_t k = 0; names >> name; ++k)
        if (name == "Ir") column = k;
    } else if (column && line.rfind("totals:", 0) == 0) {
      totals = value_at(line.substr(7), *column);
    } else if (column && line.rfind("summary:", 0) == 0) {
      summary = value_at(line.substr(8), *column);
    }
  }
  return totals ? totals : summary;
}

}  // namespace alloclab::run
