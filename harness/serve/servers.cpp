#include "harness/serve/servers.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace alloclab::serve {

namespace fs = std::filesystem;

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string which(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= p.size()) {
    auto colon = p.find(':', start);
    if (colon == std::string::npos) colon = p.size();
    std::string dir = p.substr(start, colon - start);
    if (!dir.empty() && executable(dir + "/" + name)) return dir + "/" + name;
    start = colon + 1;
  }
  return {};
}

// The Node.js server: the http module answering every request with the
// file read at start, and, when asked, memory held for the process's life
// (a cache of small objects) so that V8's collector has a heap to trace.
constexpr const char* kNodeServer = R"JS('use strict';
const http = require('http');
const fs = require('fs');
const [port, docroot, retainMib] = process.argv.slice(2);
const body = fs.readFileSync(docroot + '/index.html');
const retained = [];
// About 1 KiB each: an object and a flat string of its own (JSON's round
// trip flattens the concatenation, which V8 would otherwise keep as a
// pair of pointers to shared parts).
for (let i = 0; i < Number(retainMib) * 1024; i++) {
  retained.push({ id: i, text: JSON.parse(JSON.stringify('r'.repeat(960) + i)), next: null });
}
const server = http.createServer((req, res) => {
  if (req.url !== '/' && req.url !== '/index.html') {
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
server.listen(Number(port), '127.0.0.1');
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// After the load: one full, non-incremental collection of the heap as it
// stands (--expose-gc), which --trace-gc reports as requested.
process.on('SIGUSR2', () => global.gc());
globalThis.alloclabRetained = retained;
)JS";

}  // namespace

const std::vector<ServerKind>& server_kinds() {
  static const std::vector<ServerKind> kinds = {
      {"nginx", "nginx-light", "nginx 1.22: one worker process, static file, sendfile", false},
      {"h2o", "h2o", "h2o 2.2: one thread, static file", false},
      {"haproxy", "haproxy", "HAProxy 2.6: one thread, HTTP mode, in front of an nginx upstream (glibc)", true},
      {"apache", "apache2-bin", "Apache httpd 2.4, event MPM: one process of 64 threads, APR pools", false},
      {"node", "nodejs", "Node.js: the http module answering from a buffer read at start", false},
      {"rust", "librust-hyper-dev and librust-tokio-dev",
       "hyper 0.14 on a one-thread tokio runtime (servers/rust-hyper), standing for Axum", false},
  };
  return kinds;
}

const ServerKind* find_server(std::string_view name) {
  for (const auto& k : server_kinds()) if (k.name == name) return &k;
  return nullptr;
}

std::string server_names() {
  std::string s;
  for (const auto& k : server_kinds()) s += (s.empty() ? "" : ", ") + std::string(k.name);
  return s;
}

std::string servers_root() {
  if (const char* env = std::getenv("ALLOCLAB_SERVERS_ROOT"); env != nullptr && env[0] != '\0') return env;
  std::error_code ec;
  fs::path root = fs::path(ALLOCLAB_SOURCE_DIR) / ".deps" / "servers" / "root";
  if (fs::is_directory(root, ec)) return root.string();
  return {};
}

std::string server_binary(const ServerKind& kind) {
  std::string root = servers_root();
  std::vector<std::string> candidates;
  if (kind.name == "nginx") candidates = {"/usr/sbin/nginx"};
  if (kind.name == "h2o") candidates = {"/usr/bin/h2o"};
  if (kind.name == "haproxy") candidates = {"/usr/sbin/haproxy"};
  if (kind.name == "apache") candidates = {"/usr/sbin/apache2"};
  if (kind.name == "rust") candidates = {"/usr/bin/alloclab-rust-server"};
  if (kind.name == "node") {
    const char* env = std::getenv("ALLOCLAB_SERVERS_ROOT");
    if (env != nullptr && env[0] != '\0' && executable(std::string(env) + "/usr/bin/node")) return std::string(env) + "/usr/bin/node";
    std::string node = which("node");
    if (!node.empty()) return node;
    candidates = {"/usr/bin/node"};
  }
  for (const auto& c : candidates) {
    if (!root.empty() && executable(root + c)) return root + c;
  }
  // An explicit ALLOCLAB_SERVERS_ROOT is the only place looked in.
  const char* env = std::getenv("ALLOCLAB_SERVERS_ROOT");
  for (const auto& c : candidates) {
    if ((env == nullptr || env[0] == '\0') && kind.name != "rust" && executable(c)) return c;
  }
  if (kind.name == "rust") {
    throw MissingProgram("the rust server is not built (scripts/install-servers.sh builds it from Debian's packages " +
                         std::string(kind.package) + ")");
  }
  throw MissingProgram("the " + std::string(kind.name) + " server is not installed (Debian package " +
                       std::string(kind.package) + "; scripts/install-servers.sh unpacks it)");
}

std::string servers_library_path() {
  std::string root = servers_root();
  if (root.empty()) return {};
  return root + "/usr/lib/x86_64-linux-gnu:" + root + "/lib/x86_64-linux-gnu";
}

Launch prepare_server(const ServerKind& kind, const Layout& l) {
  Launch launch;
  const std::string& p = l.prefix;
  launch.stdout_path = p + "/stdout.log";
  launch.stderr_path = p + "/stderr.log";
  launch.error_log = p + "/error.log";
  const std::string bin = server_binary(kind);
  const std::string port = std::to_string(l.port);
  if (kind.name == "nginx") {
    fs::create_directories(p + "/tmp");
    std::string conf =
        "daemon off;\nmaster_process on;\nworker_processes 1;\n"
        "pid " + p + "/nginx.pid;\nerror_log " + p + "/error.log warn;\n" +
        (l.as_root ? "user nobody nogroup;\n" : "") +
        "events { worker_connections 4096; }\n"
        "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n"
        "  keepalive_timeout 120s;\n  keepalive_requests 1000000;\n  default_type text/html;\n"
        "  client_body_temp_path " + p + "/tmp/body;\n  proxy_temp_path " + p + "/tmp/proxy;\n"
        "  fastcgi_temp_path " + p + "/tmp/fastcgi;\n  uwsgi_temp_path " + p + "/tmp/uwsgi;\n"
        "  scgi_temp_path " + p + "/tmp/scgi;\n"
        "  server {\n    listen 127.0.0.1:" + port + ";\n    root " + l.docroot + ";\n"
        "    index index.html;\n  }\n}\n";
    write_file(p + "/nginx.conf", conf);
    launch.argv = {bin, "-p", p, "-c", p + "/nginx.conf", "-e", p + "/error.log"};
  } else if (kind.name == "h2o") {
    std::string conf = "listen:\n  host: 127.0.0.1\n  port: " + port + "\nnum-threads: 1\n" +
                       "error-log: " + p + "/error.log\n" +
                       (l.as_root ? "user: nobody\n" : "") +
                       "http1-request-timeout: 120\n"
                       "hosts:\n  default:\n    paths:\n      /:\n        file.dir: " + l.docroot + "\n";
    write_file(p + "/h2o.conf", conf);
    launch.argv = {bin, "-c", p + "/h2o.conf"};
  } else if (kind.name == "haproxy") {
    std::string conf =
        "global\n  nbthread 1\n  maxconn 4096\n  pidfile " + p + "/haproxy.pid\n"
        "defaults\n  mode http\n  option http-keep-alive\n  timeout connect 5s\n"
        "  timeout client 120s\n  timeout server 120s\n  timeout http-keep-alive 120s\n"
        "frontend fe\n  bind 127.0.0.1:" + port + "\n  default_backend be\n"
        "backend be\n  http-reuse always\n  server upstream 127.0.0.1:" + std::to_string(l.upstream_port) + "\n";
    write_file(p + "/haproxy.cfg", conf);
    launch.argv = {bin, "-db", "-f", p + "/haproxy.cfg"};
    launch.error_log = launch.stderr_path;
  } else if (kind.name == "apache") {
    std::string root = servers_root();
    std::string modules = (!root.empty() && fs::exists(root + "/usr/lib/apache2/modules")) ? root + "/usr/lib/apache2/modules"
                                                                                          : "/usr/lib/apache2/modules";
    std::string conf =
        "ServerRoot " + p + "\nDefaultRuntimeDir " + p + "\nPidFile " + p + "/httpd.pid\n"
        "ErrorLog " + p + "/error.log\nLogLevel warn\nMutex file:" + p + " default\n"
        "LoadModule mpm_event_module " + modules + "/mod_mpm_event.so\n"
        "LoadModule authz_core_module " + modules + "/mod_authz_core.so\n"
        "LoadModule dir_module " + modules + "/mod_dir.so\n" +
        (l.as_root ? "User nobody\nGroup nogroup\n" : "") +
        "ServerName 127.0.0.1\nListen 127.0.0.1:" + port + "\n"
        "<Directory />\n  AllowOverride None\n  Require all denied\n</Directory>\n"
        "DocumentRoot " + l.docroot + "\n<Directory " + l.docroot + ">\n  Require all granted\n</Directory>\n"
        "DirectoryIndex index.html\nEnableSendfile On\n"
        "KeepAlive On\nMaxKeepAliveRequests 0\nKeepAliveTimeout 120\n"
        "StartServers 1\nServerLimit 1\nThreadLimit 64\nThreadsPerChild 64\n"
        "MaxRequestWorkers 64\nMinSpareThreads 1\nMaxSpareThreads 64\nMaxConnectionsPerChild 0\n";
    write_file(p + "/httpd.conf", conf);
    launch.argv = {bin, "-DFOREGROUND", "-d", p, "-f", p + "/httpd.conf"};
  } else if (kind.name == "node") {
    write_file(p + "/server.js", kNodeServer);
    launch.argv = {bin, "--trace-gc", "--expose-gc", "--max-old-space-size=8192", p + "/server.js", port, l.docroot,
                   std::to_string(l.node_retain_mib)};
    launch.error_log = launch.stderr_path;
    launch.traces_gc = true;
  } else if (kind.name == "rust") {
    launch.argv = {bin, port, l.docroot};
    launch.error_log = launch.stderr_path;
  }
  return launch;
}

}  // namespace alloclab::serve
