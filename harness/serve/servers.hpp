// The real servers `alloclab serve` measures, and how each is laid out in a
// temporary prefix: its configuration, command line and log.
//
// Each runs in the foreground on 127.0.0.1 with one worker process (or
// thread pool, for httpd's event MPM), keep-alive on, access logs off, and
// serves PREFIX/www/index.html. Binaries come from
// scripts/install-servers.sh's unpacked packages (.deps/servers/root, or
// $ALLOCLAB_SERVERS_ROOT), else from the system.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace alloclab::serve {

// A server binary or the load generator is not installed (exit status 4).
class MissingProgram : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ServerKind {
  std::string_view name;         // as on the command line
  std::string_view package;      // the Debian package holding it
  std::string_view description;  // one line for --help and the report
  bool needs_upstream = false;   // a proxy: an nginx upstream serves the file
};

const std::vector<ServerKind>& server_kinds();
const ServerKind* find_server(std::string_view name);
std::string server_names();  // "nginx, h2o, ..."

// Where the unpacked packages live ("" when not installed).
std::string servers_root();

// The server's binary; throws MissingProgram naming the package.
std::string server_binary(const ServerKind& kind);

// LD_LIBRARY_PATH entries for the unpacked packages' libraries.
std::string servers_library_path();

struct Layout {
  std::string prefix;       // the server's own folder (config, logs, pid)
  std::string docroot;      // holds index.html
  int port = 0;
  int upstream_port = 0;    // for a proxy
  bool as_root = false;     // workers drop to nobody:nogroup
  int node_retain_mib = 0;  // Node.js: memory the server holds for its lifetime
};

struct Launch {
  std::vector<std::string> argv;
  std::string stdout_path;
  std::string stderr_path;
  // Where the server writes its errors (stderr_path for some).
  std::string error_log;
  // Node.js: V8's --trace-gc lines go to stdout_path.
  bool traces_gc = false;
};

// Writes the configuration of `kind` under layout.prefix and returns how to
// start it.
Launch prepare_server(const ServerKind& kind, const Layout& layout);

}  // namespace alloclab::serve
