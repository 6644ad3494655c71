// http-upload: large request bodies streamed through the server behind
// nginx's front (nginx_front.hpp). Each read event takes one 16 KiB chunk
// into a malloc'd buffer that waits until the writer (disk or upstream)
// has consumed it; at most four chunks wait per connection, so buffering
// stays bounded and the chunks of many connections interleave. A small
// response ends each upload. Figures and sources: workloads/MODELS.md.
#include <algorithm>
#include <array>

#include "workloads/models/event_loop.hpp"
#include "workloads/models/generators.hpp"
#include "workloads/models/model_common.hpp"

namespace alloclab::trace {
namespace {

constexpr std::uint32_t kRequestBody = 80;  // ngx_http_request_body_t
// Chunk: 2^14 bytes, the largest TLS record plaintext (RFC 8446 5.1) and
// HTTP/2's default SETTINGS_MAX_FRAME_SIZE (RFC 9113 6.5.2): what one read
// of a streamed body yields.
constexpr std::uint32_t kChunk = 16384;
// At most 4 chunks wait: 64 KiB, HTTP/2's default flow-control window
// (65,535 B, RFC 9113 6.9.2), the most a client may send unacknowledged.
constexpr std::uint32_t kWindow = 4;
// When both are possible, the next event on a connection is a read with
// this probability, else a finished write (chosen: reads a little faster
// than writes, so the window fills and the bound matters).
constexpr double kReadFirst = 0.6;
// Body: log-normal, median 1 MiB (a phone photo), p95 16 MiB (video clips,
// documents), at most 64 MiB (chosen; an upload server raises nginx's 1 MiB
// client_max_body_size).
constexpr double kBodyMedian = 1 << 20, kBodyP95 = 16 << 20;
constexpr std::uint32_t kBodyMax = 64u << 20;
// Response: "201 Created" with a few fields (chosen: 4).
constexpr std::uint32_t kResponseFields = 4;

struct Shared {
  http::HeadShapes shapes;
  http::Head head;
};

class UploadConn : public nginx::KeepaliveConn<UploadConn, Shared> {
 public:
  using KeepaliveConn::KeepaliveConn;

 private:
  friend KeepaliveConn;

  void start(TraceBuilder& b, Rng& rng) {
    b.alloc(c_.thread(), kRequestBody, begin_request(b, rng, 4));
    body_left_ = rng.lognormal_size(kBodyMedian, kBodyP95, 1, kBodyMax);
  }

  // A chunk is read into a new buffer, or the oldest one is written out.
  void advance(TraceBuilder& b, Rng& rng) {
    std::uint32_t th = c_.thread();
    if (body_left_ > 0 && queued_ < kWindow && (queued_ == 0 || rng.chance(kReadFirst))) {
      std::uint32_t n = std::min(body_left_, kChunk);
      queue_[(head_ + queued_++) % kWindow] = b.alloc(th, n);
      body_left_ -= n;
    } else {
      b.free(th, queue_[head_]);
      head_ = (head_ + 1) % kWindow;
      --queued_;
      if (body_left_ == 0 && queued_ == 0) respond(b, rng);
    }
  }

  void respond(TraceBuilder& b, Rng& rng) {
    sh_->shapes.response(rng, kResponseFields, sh_->head);
    std::uint32_t th = c_.thread();
    b.alloc(th, nginx::kBuf, c_.request());  // header filter: ngx_create_temp_buf
    b.alloc(th, sh_->head.bytes, c_.request());
    b.alloc(th, nginx::kChainLink, c_.request());
    request_done();
  }

  std::uint32_t body_left_ = 0;
  std::array<std::uint32_t, kWindow> queue_{};  // chunk slots, oldest at head_
  std::uint32_t head_ = 0;
  std::uint32_t queued_ = 0;
};

Trace generate(const ModelParams& p) {
  TraceBuilder b(p.threads);
  Rng rng(p.seed);
  Shared sh;
  serve<UploadConn>(b, rng, p, sh);
  nlohmann::json params = {
      {"chunk", kChunk},
      {"window_chunks", kWindow},
      {"read_first", kReadFirst},
      {"body_median", kBodyMedian},
      {"body_p95", kBodyP95},
      {"body_max", kBodyMax},
      {"response_fields", kResponseFields},
  };
  return b.finish(model_metadata("http-upload", p, std::move(params)));
}

}  // namespace

extern const Model http_upload_model;
const Model http_upload_model = {
    "http-upload",
    "large request bodies streamed in 16 KiB chunks, at most 64 KiB buffered per connection",
    500,
    64,
    1,
    "",
    false,
    &generate,
};

}  // namespace alloclab::trace
