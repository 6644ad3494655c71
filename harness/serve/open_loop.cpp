#include "harness/serve/open_loop.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <deque>
#include <strings.h>

namespace alloclab::serve {

namespace {

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Conn {
  int fd = -1;
  bool busy = false;
  std::int64_t due_ns = 0;
  std::string header;          // bytes of the response head read so far
  bool in_body = false;
  std::int64_t body_left = 0;
};

int open_connection(const OpenLoopOptions& o) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
  ::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

// Content-Length of a response head (-1 when absent); the status code.
bool parse_head(const std::string& head, int& status, std::int64_t& length) {
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return false;
  status = std::atoi(head.c_str() + 9);
  length = -1;
  std::size_t at = head.find("\r\n");
  while (at != std::string::npos && at + 2 < head.size()) {
    std::size_t next = head.find("\r\n", at + 2);
    std::string line = head.substr(at + 2, (next == std::string::npos ? head.size() : next) - at - 2);
    if (line.size() > 15 && ::strncasecmp(line.c_str(), "content-length:", 15) == 0) {
      length = std::strtoll(line.c_str() + 15, nullptr, 10);
    }
    at = next;
  }
  return true;
}

}  // namespace

double OpenLoopResult::percentile_us(double q) const {
  if (latency_us.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(latency_us.size())));
  rank = std::clamp<std::size_t>(rank, 1, latency_us.size());
  return latency_us[rank - 1];
}

OpenLoopResult run_open_loop(const OpenLoopOptions& o, const volatile int* stop) {
  OpenLoopResult r;
  const auto total = static_cast<std::uint64_t>(std::llround(o.rate * o.seconds));
  const double interval_ns = 1e9 / o.rate;
  std::string request = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + "\r\n\r\n";

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  int timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  epoll_event tev{};
  tev.events = EPOLLIN;
  tev.data.u64 = ~0ULL;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, timer, &tev);

  std::vector<Conn> conns(static_cast<std::size_t>(std::max(1, o.connections)));
  auto attach = [&](std::size_t i) {
    Conn& c = conns[i];
    c = Conn{};
    c.fd = open_connection(o);
    if (c.fd < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  };
  auto fail = [&](const std::string& why) {
    ++r.errors;
    if (r.first_error.empty()) r.first_error = why;
  };
  for (std::size_t i = 0; i < conns.size(); ++i) {
    if (!attach(i)) {
      fail("connect to " + o.host + ":" + std::to_string(o.port) + ": " + std::strerror(errno));
      r.errors = total;
      for (auto& c : conns) if (c.fd >= 0) ::close(c.fd);
      ::close(timer);
      ::close(ep);
      r.due = total;
      return r;
    }
  }

  std::deque<std::int64_t> pending;  // due times waiting for a connection
  std::vector<std::size_t> idle;
  for (std::size_t i = 0; i < conns.size(); ++i) idle.push_back(i);
  const std::int64_t start = now_ns() + 1'000'000;
  const auto due_of = [&](std::uint64_t i) { return start + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns); };
  const std::int64_t drain_end = due_of(total) + static_cast<std::int64_t>(o.drain_seconds * 1e9);
  std::uint64_t next = 0;
  std::int64_t last_answer = start;
  std::size_t busy = 0;
  r.latency_us.reserve(total);
  char buf[65536];

  auto arm = [&](std::int64_t at) {
    itimerspec its{};
    its.it_value.tv_sec = at / 1'000'000'000;
    its.it_value.tv_nsec = at % 1'000'000'000;
    ::timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, nullptr);
  };
  auto send_on = [&](std::size_t i, std::int64_t due) {
    Conn& c = conns[i];
    ssize_t n = ::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(request.size())) return false;
    c.busy = true;
    c.due_ns = due;
    ++busy;
    return true;
  };
  auto dispatch = [&]() {
    while (!pending.empty() && !idle.empty()) {
      std::size_t i = idle.back();
      idle.pop_back();
      if (!send_on(i, pending.front())) {
        ::close(conns[i].fd);
        if (!attach(i) || !send_on(i, pending.front())) {
          fail(std::string("send: ") + std::strerror(errno));
          pending.pop_front();
          if (conns[i].fd >= 0) idle.push_back(i);
          continue;
        }
      }
      pending.pop_front();
    }
  };
  auto reset = [&](std::size_t i, const std::string& why) {
    Conn& c = conns[i];
    if (c.busy) {
      fail(why);
      --busy;
    }
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    if (attach(i)) idle.push_back(i);
  };

  arm(start);
  epoll_event events[64];
  while (stop == nullptr || *stop == 0) {
    std::int64_t now = now_ns();
    while (next < total && due_of(next) <= now) pending.push_back(due_of(next++));
    dispatch();
    if (next >= total && pending.empty() && busy == 0) break;
    if (now > drain_end) break;
    arm(next < total ? due_of(next) : drain_end);
    int n = ::epoll_wait(ep, events, 64, 100);
    if (n < 0 && errno != EINTR) break;
    for (int k = 0; k < n; ++k) {
      if (events[k].data.u64 == ~0ULL) {
        std::uint64_t expirations;
        ssize_t got = ::read(timer, &expirations, sizeof(expirations));
        (void)got;
        continue;
      }
      std::size_t i = events[k].data.u64;
      Conn& c = conns[i];
      for (;;) {
        ssize_t got = ::recv(c.fd, buf, sizeof(buf), 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          reset(i, got == 0 ? "the server closed a connection" : std::string("recv: ") + std::strerror(errno));
          break;
        }
        if (got < 0) break;
        if (!c.busy) {
          reset(i, "bytes from the server with no request in flight");
          break;
        }
        std::size_t used = 0;
        if (!c.in_body) {
          std::size_t old = c.header.size();
          c.header.append(buf, static_cast<std::size_t>(got));
          auto end = c.header.find("\r\n\r\n");
          if (end == std::string::npos) {
            if (c.header.size() > 65536) { reset(i, "response head over 64 KiB"); break; }
            continue;
          }
          int status = 0;
          std::int64_t length = -1;
          if (!parse_head(c.header.substr(0, end + 2), status, length) || length < 0) {
            reset(i, "a response without Content-Length");
            break;
          }
          used = end + 4 - old;
          c.in_body = true;
          c.body_left = length;
          if (status != 200) {
            fail("status " + std::to_string(status));
            c.due_ns = -1;
          }
        } else {
          used = 0;
        }
        c.body_left -= static_cast<std::int64_t>(static_cast<std::size_t>(got) - used);
        if (c.body_left < 0) { reset(i, "more bytes than Content-Length"); break; }
        if (c.body_left == 0) {
          std::int64_t t = now_ns();
          if (c.due_ns >= 0) {
            ++r.completed;
            r.latency_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>((t - c.due_ns) / 1000, UINT32_MAX)));
          }
          last_answer = t;
          c.busy = false;
          c.in_body = false;
          c.header.clear();
          --busy;
          idle.push_back(i);
          break;
        }
      }
    }
  }
  r.due = next;
  // Whatever was due and never answered is an error.
  std::uint64_t unanswered = busy + pending.size();
  if (unanswered > 0) fail(std::to_string(unanswered) + " requests unanswered at the end");
  r.errors += unanswered > 0 ? unanswered - 1 : 0;
  r.seconds = static_cast<double>(last_answer - start) / 1e9;
  for (auto& c : conns) if (c.fd >= 0) ::close(c.fd);
  ::close(timer);
  ::close(ep);
  std::sort(r.latency_us.begin(), r.latency_us.end());
  return r;
}

}  // namespace alloclab::serve
