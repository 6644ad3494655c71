// http1-static: nginx serving static files over keep-alive HTTP/1.1
// connections. Per request, on top of the front (nginx_front.hpp), what
// ngx_http_static_handler and the header, copy and write filters allocate
// (nginx 1.31.5: src/http/modules/ngx_http_static_module.c,
// src/http/ngx_http_core_module.c, ngx_http_header_filter_module.c,
// ngx_http_copy_filter_module.c, ngx_http_write_filter_module.c,
// src/core/ngx_output_chain.c, ngx_open_file_cache.c). sendfile is off,
// as under TLS, so the file is read into the copy filter's buffers.
// Figures and sources: workloads/MODELS.md.
#include <algorithm>

#include "workloads/models/event_loop.hpp"
#include "workloads/models/generators.hpp"
#include "workloads/models/model_common.hpp"

namespace alloclab::trace {
namespace {

constexpr std::uint32_t kRoot = 13;            // "/var/www/html", Debian's default site (chosen)
constexpr std::uint32_t kCleanup = 24;         // ngx_pool_cleanup_t
constexpr std::uint32_t kCleanupFile = 24;     // ngx_pool_cleanup_file_t
constexpr std::uint32_t kEtag = 43;            // NGX_OFF_T_LEN + NGX_TIME_T_LEN + 3
constexpr std::uint32_t kFile = 200;           // ngx_file_t
constexpr std::uint32_t kOutputChainCtx = 104;  // ngx_output_chain_ctx_t
constexpr std::uint32_t kOutputBuffer = 32768;  // output_buffers 2 32k (copy filter default)
constexpr std::uint32_t kOutputBuffers = 2;
// ngx_http_header_filter's length for a 200 with Server, Date,
// Content-Type: text/html, Content-Length, Last-Modified, Connection,
// ETag and Accept-Ranges (it sizes fixed fields by their longest form).
constexpr std::uint32_t kResponseHead = 256;
// Response body: mean 1,894 KB / 71 = 26.7 KB per request (Web Almanac
// 2024 desktop medians, "bytes per page" / "requests per page" rows). A
// log-normal with median 10 KB and p95 100 KB (chosen) has that mean.
constexpr double kBodyMedian = 10'000, kBodyP95 = 100'000;
constexpr std::uint32_t kBodyMax = 64u << 20;  // chosen

struct Shared {
  http::HeadShapes shapes;
  http::Head head;
};

class StaticConn : public nginx::KeepaliveConn<StaticConn, Shared> {
 public:
  using KeepaliveConn::KeepaliveConn;

 private:
  friend KeepaliveConn;

  // The head arrives and the handler runs: path, open file, ETag, file
  // buffer, response head, then the first output buffer.
  void start(TraceBuilder& b, Rng& rng) {
    std::uint32_t r = begin_request(b, rng, 3);
    std::uint32_t th = c_.thread();
    b.alloc(th, kRoot + sh_->head.target + 1, r);  // ngx_http_map_uri_to_path
    b.alloc(th, kCleanup, r);                      // ngx_open_cached_file without a cache
    b.alloc(th, kCleanupFile, r);
    b.alloc(th, kEtag, r);
    b.alloc(th, nginx::kBuf, r);  // the file's ngx_buf_t
    b.alloc(th, kFile, r);
    b.alloc(th, nginx::kBuf, r);  // header filter: ngx_create_temp_buf
    b.alloc(th, kResponseHead, r);
    b.alloc(th, nginx::kChainLink, r);  // write filter
    b.alloc(th, kOutputChainCtx, r);
    b.alloc(th, nginx::kChainLink, r);  // ngx_output_chain_add_copy
    body_left_ = rng.lognormal_size(kBodyMedian, kBodyP95, 1, kBodyMax);
    buffers_ = 0;
    send(b);
  }

  void advance(TraceBuilder& b, Rng&) { send(b); }

  // One output buffer's worth read and written. The copy filter allocates
  // up to two buffers (the last one only as large as what is left) and
  // recycles them after that.
  void send(TraceBuilder& b) {
    std::uint32_t n = std::min(body_left_, kOutputBuffer);
    if (buffers_ < kOutputBuffers) {
      std::uint32_t th = c_.thread();
      b.alloc(th, nginx::kBuf, c_.request());
      b.alloc(th, n, c_.request());
      b.alloc(th, nginx::kChainLink, c_.request());  // write filter
      ++buffers_;
    }
    body_left_ -= n;
    if (body_left_ == 0) request_done();
  }

  std::uint32_t body_left_ = 0;
  std::uint32_t buffers_ = 0;
};

Trace generate(const ModelParams& p) {
  TraceBuilder b(p.threads);
  Rng rng(p.seed);
  Shared sh;
  serve<StaticConn>(b, rng, p, sh);
  nlohmann::json params = {
      {"client_header_buffer_size", nginx::kHeaderBuffer},
      {"large_client_header_buffers", nginx::kLargeHeaderBuffer},
      {"output_buffers", kOutputBuffer},
      {"response_head_bytes", kResponseHead},
      {"body_median", kBodyMedian},
      {"body_p95", kBodyP95},
      {"url_median", http::kUrlMedian},
      {"url_p95", http::kUrlP95},
      {"request_fields_median", http::kRequestFieldsMedian},
      {"request_fields_p95", http::kRequestFieldsP95},
      {"header_value_median", http::kValueMedian},
      {"header_value_p99", http::kValueP99},
      {"cookie_median", http::kCookieMedian},
      {"cookie_p95", http::kCookieP95},
      {"cookie_share", http::kCookieShare},
      {"cookies_mean", http::kCookiesMean},
      {"complex_uri_share", nginx::kComplexUri},
  };
  return b.finish(model_metadata("http1-static", p, std::move(params)));
}

}  // namespace

extern const Model http1_static_model;
const Model http1_static_model = {
    "http1-static",
    "nginx serving static files on keep-alive HTTP/1.1 connections",
    10'000,
    64,
    1,
    "",
    false,
    &generate,
};

}  // namespace alloclab::trace
