// http-api: a JSON API behind nginx's front (nginx_front.hpp). Each
// request POSTs a JSON body; the handler parses it with cJSON into a pool
// (a child scope), builds the response tree in a second one, prints it
// into a malloc'd buffer grown by realloc, and sends that. Body and
// response sizes are heavy-tailed (log-normal). Figures and sources:
// workloads/MODELS.md; the cJSON pattern: json_shapes.hpp.
#include <algorithm>

#include "workloads/models/event_loop.hpp"
#include "workloads/models/generators.hpp"
#include "workloads/models/json_shapes.hpp"
#include "workloads/models/model_common.hpp"

namespace alloclab::trace {
namespace {

constexpr std::uint32_t kRequestBody = 80;  // ngx_http_request_body_t
// Request body: log-normal, median 512 B, p95 8 KiB (chosen: small JSON
// documents with a heavy tail), at most nginx's default
// client_max_body_size, 1 MiB. The server keeps it in one buffer from the
// request pool (client_body_in_single_buffer, client_body_buffer_size
// raised to 1m: chosen, so the handler sees the whole document).
constexpr double kBodyMedian = 512, kBodyP95 = 8192;
constexpr std::uint32_t kBodyMax = 1u << 20;
// Response document: log-normal, median 1 KiB, p95 16 KiB, at most 8 MiB
// (chosen).
constexpr double kResponseMedian = 1024, kResponseP95 = 16384;
constexpr std::uint32_t kResponseMax = 8u << 20;
// Bytes moved per read or write event: 16 KiB, the largest TLS record
// (chosen: the server runs behind TLS).
constexpr std::uint32_t kIoChunk = 16384;

struct Shared {
  http::HeadShapes shapes;
  http::Head head;
  http::Head response_head;
  std::vector<json::Member> doc;
};

class ApiConn : public nginx::KeepaliveConn<ApiConn, Shared> {
 public:
  using KeepaliveConn::KeepaliveConn;

 private:
  friend KeepaliveConn;
  enum class Phase : std::uint8_t { reading, sending };

  // The head and the first part of the body arrive; the body buffer is
  // allocated at once from Content-Length.
  void start(TraceBuilder& b, Rng& rng) {
    std::uint32_t r = begin_request(b, rng, 4);
    body_ = rng.lognormal_size(kBodyMedian, kBodyP95, 2, kBodyMax);
    b.alloc(c_.thread(), kRequestBody, r);
    b.alloc(c_.thread(), nginx::kBuf, r);
    b.alloc(c_.thread(), body_, r);
    io_left_ = body_ - std::min(body_, kIoChunk);
    phase_ = Phase::reading;
    if (io_left_ == 0) handle(b, rng);
  }

  // The whole body is in: parse, build the response, print it, free both
  // trees, and start sending the response head and text.
  void handle(TraceBuilder& b, Rng& rng) {
    std::uint32_t th = c_.thread();
    std::uint32_t r = c_.request();
    json::draw_document(rng, body_, sh_->doc);
    std::uint32_t in = b.open(th, ScopeKind::child, r);
    json::parse(b, th, in, sh_->doc);
    json::draw_document(rng, rng.lognormal_size(kResponseMedian, kResponseP95, 2, kResponseMax), sh_->doc);
    std::uint32_t out = b.open(th, ScopeKind::child, r);
    json::build(b, th, out, sh_->doc);
    text_ = json::print(b, th, sh_->doc);
    b.close(th, out);
    b.close(th, in);
    sh_->shapes.response(rng, http::kResponseFields, sh_->response_head);
    b.alloc(th, nginx::kBuf, r);  // header filter: ngx_create_temp_buf
    b.alloc(th, sh_->response_head.bytes, r);
    b.alloc(th, nginx::kBuf, r);  // the text's ngx_buf_t
    b.alloc(th, nginx::kChainLink, r);
    b.alloc(th, nginx::kChainLink, r);
    io_left_ = b.size_of(text_);
    phase_ = Phase::sending;
  }

  // One read or write event moves a chunk.
  void advance(TraceBuilder& b, Rng& rng) {
    io_left_ -= std::min(io_left_, kIoChunk);
    if (io_left_ > 0) return;
    if (phase_ == Phase::reading) {
      handle(b, rng);
    } else {
      b.free(c_.thread(), text_);
      request_done();
    }
  }

  std::uint32_t body_ = 0;
  std::uint32_t io_left_ = 0;
  std::uint32_t text_ = TraceBuilder::kNone;
  Phase phase_ = Phase::reading;
};

Trace generate(const ModelParams& p) {
  TraceBuilder b(p.threads);
  Rng rng(p.seed);
  Shared sh;
  serve<ApiConn>(b, rng, p, sh);
  nlohmann::json params = {
      {"body_median", kBodyMedian},
      {"body_p95", kBodyP95},
      {"body_max", kBodyMax},
      {"response_median", kResponseMedian},
      {"response_p95", kResponseP95},
      {"response_max", kResponseMax},
      {"io_chunk", kIoChunk},
      {"cjson_item", json::kItem},
      {"cjson_print_buffer", json::kPrintBuffer},
      {"json_key_median", json::kKeyMedian},
      {"json_string_median", json::kStringMedian},
      {"json_string_p95", json::kStringP95},
      {"response_fields", http::kResponseFields},
  };
  return b.finish(model_metadata("http-api", p, std::move(params)));
}

}  // namespace

extern const Model http_api_model;
const Model http_api_model = {
    "http-api",
    "JSON POST bodies parsed into pool trees, responses printed into a realloc-grown buffer",
    500,
    64,
    1,
    "",
    false,
    &generate,
};

}  // namespace alloclab::trace
