// nginx's HTTP/1.1 front end, the server in every model: what it asks its
// pools for to accept a connection, read a request head and keep an idle
// keep-alive connection. Learned from nginx 1.31.5:
// src/event/ngx_event_accept.c (ngx_event_accept),
// src/http/ngx_http_request.c (ngx_http_init_connection,
// ngx_http_wait_request_handler, ngx_http_alloc_request,
// ngx_http_process_request_line/_headers/_uri,
// ngx_http_alloc_large_header_buffer, ngx_http_set_keepalive,
// ngx_http_keepalive_handler). Struct sizes are sizeof on x86-64 (gcc,
// nginx's own ./configure without the rewrite and gzip modules).
//
// The trace records what nginx asks a pool for, not how the pool serves
// it: a connection scope is c->pool, a request scope is r->pool. What
// nginx frees with ngx_pfree (the 1 KiB client header buffer and the
// 8 KiB large header buffers when a keep-alive connection goes idle) is
// freed individually; the rest goes when its pool is destroyed.
#pragma once

#include <cstdint>

#include "workloads/models/http_shapes.hpp"
#include "workloads/trace_builder.hpp"

namespace alloclab::trace::nginx {

inline constexpr std::uint32_t kSockaddr = 16;        // struct sockaddr_in (IPv4 listener)
inline constexpr std::uint32_t kLog = 80;             // ngx_log_t
inline constexpr std::uint32_t kAddrText = 15;        // NGX_INET_ADDRSTRLEN
inline constexpr std::uint32_t kHttpConnection = 56;  // ngx_http_connection_t
inline constexpr std::uint32_t kLogCtx = 24;          // ngx_http_log_ctx_t
inline constexpr std::uint32_t kBuf = 80;             // ngx_buf_t
inline constexpr std::uint32_t kChainLink = 16;       // ngx_chain_t
inline constexpr std::uint32_t kRequest = 1304;       // ngx_http_request_t
inline constexpr std::uint32_t kTableElt = 56;        // ngx_table_elt_t
inline constexpr std::uint32_t kListPart = 24;        // ngx_list_part_t
inline constexpr std::uint32_t kListHeaders = 20;     // headers_in/headers_out: ngx_list_init(..., 20, ...)
inline constexpr std::uint32_t kListTrailers = 4;     // headers_out.trailers
inline constexpr std::uint32_t kHttpModules = 44;     // ngx_http_max_module with that configure
inline constexpr std::uint32_t kVariableValue = 16;   // ngx_http_variable_value_t
// Indexed variables (cmcf->variables.nelts): chosen as the 8 of the default
// "combined" access log format.
inline constexpr std::uint32_t kVariables = 8;
inline constexpr std::uint32_t kHeaderBuffer = 1024;       // client_header_buffer_size
inline constexpr std::uint32_t kLargeHeaderBuffer = 8192;  // large_client_header_buffers 4 8k
inline constexpr std::uint32_t kLargeHeaderBuffers = 4;
inline constexpr std::uint32_t kKeepaliveRequests = 1000;  // keepalive_requests
// Share of request-targets with %-escapes or "//", "/./" (r->quoted_uri,
// r->complex_uri), which nginx decodes into a pool copy: chosen.
inline constexpr double kComplexUri = 0.1;

// One client connection on one thread.
class Connection {
 public:
  Connection() = default;

  // ngx_event_accept and ngx_http_init_connection: the connection pool and
  // what goes in it before the first byte arrives.
  void open(TraceBuilder& b, std::uint32_t th) {
    th_ = th;
    scope_ = b.open(th, ScopeKind::connection);
    b.alloc(th, kSockaddr, scope_);
    b.alloc(th, kLog, scope_);
    b.alloc(th, kAddrText, scope_);
    b.alloc(th, kHttpConnection, scope_);
    b.alloc(th, kLogCtx, scope_);
  }

  std::uint32_t thread() const { return th_; }
  std::uint32_t scope() const { return scope_; }
  std::uint32_t request() const { return request_; }

  // A request head arrives: the header buffer (ngx_create_temp_buf the
  // first time, ngx_palloc again after an idle period), large header
  // buffers when the head does not fit 1 KiB, then the request pool with
  // ngx_http_alloc_request's allocations, the headers_in list and a
  // lowercase copy of each field name. Returns the request scope.
  std::uint32_t begin_request(TraceBuilder& b, Rng& rng, const http::Head& head) {
    if (!buf_struct_) {
      b.alloc(th_, kBuf, scope_);
      buf_struct_ = true;
    }
    header_buf_ = b.alloc(th_, kHeaderBuffer, scope_);
    if (head.bytes > kHeaderBuffer) {
      // Each large buffer holds up to 8 KiB of the head; nginx refuses a
      // head that needs more than four (the model never draws one: fields
      // are at most a few KiB).
      std::uint32_t need = (head.bytes + kLargeHeaderBuffer - 1) / kLargeHeaderBuffer;
      if (need > kLargeHeaderBuffers) need = kLargeHeaderBuffers;
      for (std::uint32_t i = 0; i < need; ++i) {
        large_[large_count_++] = b.alloc(th_, kLargeHeaderBuffer, scope_);
        // Chain links return to c->pool's chain list and are reused.
        if (links_ < large_count_) {
          b.alloc(th_, kChainLink, scope_);
          ++links_;
        }
      }
    }
    request_ = b.open(th_, ScopeKind::request, scope_);
    b.alloc(th_, kRequest, request_);
    b.alloc(th_, kListHeaders * kTableElt, request_);   // headers_out.headers
    b.alloc(th_, kListTrailers * kTableElt, request_);  // headers_out.trailers
    b.alloc(th_, kHttpModules * 8, request_);           // r->ctx
    b.alloc(th_, kVariables * kVariableValue, request_);
    if (rng.chance(kComplexUri)) b.alloc(th_, head.target, request_);  // r->uri decoded
    b.alloc(th_, kListHeaders * kTableElt, request_);  // headers_in.headers
    std::uint32_t in_list = kListHeaders;
    for (std::uint32_t i = 0; i < head.fields.size(); ++i) {
      if (i == in_list) {  // ngx_list_push: a new part of 20 elements
        b.alloc(th_, kListPart, request_);
        b.alloc(th_, kListHeaders * kTableElt, request_);
        in_list += kListHeaders;
      }
      b.alloc(th_, head.fields[i].name, request_);  // h->lowcase_key
    }
    return request_;
  }

  // ngx_http_set_keepalive: the request pool goes, and so do the header
  // buffers, so that an idle connection holds little.
  void keepalive(TraceBuilder& b) {
    end_request(b);
    b.free(th_, header_buf_);
    header_buf_ = TraceBuilder::kNone;
    for (std::uint32_t i = 0; i < large_count_; ++i) b.free(th_, large_[i]);
    large_count_ = 0;
  }

  // The connection closes (the client left, or keepalive_requests ran
  // out): ngx_http_close_connection destroys both pools at once.
  void close(TraceBuilder& b) {
    if (request_ != TraceBuilder::kNone) end_request(b);
    b.close(th_, scope_);
  }

 private:
  void end_request(TraceBuilder& b) {
    b.close(th_, request_);
    request_ = TraceBuilder::kNone;
  }

  std::uint32_t th_ = 0;
  std::uint32_t scope_ = TraceBuilder::kNone;
  std::uint32_t request_ = TraceBuilder::kNone;
  std::uint32_t header_buf_ = TraceBuilder::kNone;
  std::uint32_t large_[kLargeHeaderBuffers] = {};
  std::uint32_t large_count_ = 0;
  std::uint32_t links_ = 0;
  bool buf_struct_ = false;
};

// A connection's life as every model's server runs it, one request after
// another: while idle it waits for the next head, or closes once its
// requests are served; once a response is out it goes idle
// (ngx_http_set_keepalive), or closes if that was the keepalive_requests-th
// request. Each of those is one step of the event loop (event_loop.hpp).
// The model's connection derives from KeepaliveConn<itself, Shared> and
// adds what one request does between head and response:
//   void start(TraceBuilder&, Rng&): a head arrives (c_.begin_request);
//   void advance(TraceBuilder&, Rng&): the request's next event;
// either calls request_done() once the response is out. Shared has the
// request heads' shapes and a head to draw into (`shapes`, `head`).
template <class Self, class Shared>
class KeepaliveConn {
 public:
  KeepaliveConn(TraceBuilder& b, Shared& sh, std::uint32_t th, std::uint32_t requests) : sh_(&sh), left_(requests) {
    c_.open(b, th);
  }

  // The loop's step: false once the connection has closed.
  bool step(TraceBuilder& b, Rng& rng) {
    switch (state_) {
      case State::idle:
        if (left_ == 0) {
          c_.close(b);
          return false;
        }
        state_ = State::busy;
        self().start(b, rng);
        return true;
      case State::busy:
        self().advance(b, rng);
        return true;
      case State::done:
        --left_;
        if (++served_ == kKeepaliveRequests) {
          c_.close(b);
          return false;
        }
        c_.keepalive(b);
        state_ = State::idle;
        return true;
    }
    return false;
  }

 protected:
  // A head of the model's shape with `fields` fields is drawn and read.
  // Returns the request scope.
  std::uint32_t begin_request(TraceBuilder& b, Rng& rng, std::uint32_t fields) {
    sh_->shapes.request(rng, fields, sh_->head);
    return c_.begin_request(b, rng, sh_->head);
  }

  // The response is out: the next step ends the request.
  void request_done() { state_ = State::done; }

  Shared* sh_;  // what the model's connections share
  Connection c_;

 private:
  enum class State : std::uint8_t { idle, busy, done };

  Self& self() { return static_cast<Self&>(*this); }

  std::uint32_t left_;  // requests still to serve, the current one included
  std::uint32_t served_ = 0;
  State state_ = State::idle;
};

}  // namespace alloclab::trace::nginx
