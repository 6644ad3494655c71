// idle-connections: a claim experiment for "nginx's per-connection overhead
// is ~512 bytes" (seeds/001, nginx Memory Statistics). Each connection is
// accepted and serves one request through the nginx front
// (nginx_front.hpp), then goes idle (ngx_http_set_keepalive frees the
// request pool and the header buffers); every connection stays open until
// all are idle at once, then all close. At the end of the last request the
// live bytes are those of `connections` idle connections, so the memory the
// process holds then, over the connection count, is what an idle keep-alive
// connection costs. Requests equal connections; threads each hold their
// share.
#include <vector>

#include "workloads/models/generators.hpp"
#include "workloads/models/model_common.hpp"
#include "workloads/models/nginx_front.hpp"

namespace alloclab::trace {
namespace {

constexpr std::uint32_t kMethodBytes = 3;  // "GET", as http1-static

Trace generate(const ModelParams& p) {
  require_connection_per_thread(p);
  TraceBuilder b(p.threads);
  Rng rng(p.seed);
  http::HeadShapes shapes;
  http::Head head;
  std::vector<nginx::Connection> conns(p.connections);
  for (std::uint32_t i = 0; i < p.connections; ++i) {
    nginx::Connection& c = conns[i];
    c.open(b, i % p.threads);
    shapes.request(rng, kMethodBytes, head);
    c.begin_request(b, rng, head);
    c.keepalive(b);
  }
  for (auto& c : conns) c.close(b);
  ModelParams shown = p;
  shown.requests = p.connections;
  return b.finish(model_metadata("idle-connections", shown, {{"method_bytes", kMethodBytes}}));
}

}  // namespace

extern const Model idle_connections_model;
const Model idle_connections_model = {
    "idle-connections",
    "claim experiment: connections each serve one request, then all stay idle at once (nginx's front)",
    16'384,  // requests: one per connection
    16'384,
    1,
    "",
    true,
    &generate,
};

}  // namespace alloclab::trace
